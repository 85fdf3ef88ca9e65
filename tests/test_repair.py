"""Repair mechanics: spans are cut out and the seams mended so the line reads as the original;
candidate spans reach the splices the detector must be able to choose."""

from __future__ import annotations

import numpy as np

from cleaner.repair import apply_spans
from cleaner.result import Span
from cleaner.spans import (
    KIND_JOIN,
    KIND_SENTENCE,
    SPAN_FEATURES,
    TOKEN_FEATURES,
    Scan,
    _is_lexicon_word,
    _range_max_min,
    build_bigrams,
    build_lexicon,
    candidates,
    sentences,
    span_features,
    token_features,
)

ARTICLE = [
    "Kowloon Harbour ferries resume service after the storm",
    "The Kowloon ferries stopped on Monday when the storm reached the harbour.",
    "Operators said the Kowloon routes would run a reduced timetable until Friday.",
    "Passengers crowded the Kowloon piers as the first boats left.",
]


def cut(text: str, piece: str) -> str:
    start = text.index(piece)
    return apply_spans(text, [Span(start, start + len(piece), piece)])


def test_seams_are_mended_to_the_original_text() -> None:
    assert cut("two massage parlour near me groups called", "massage parlour near me ") == (
        "two groups called"
    )
    assert cut("Chan8k8 withdrawalg'e 6 mission", "8k8 withdrawal") == "Chang'e 6 mission"
    assert cut("Join thepréstamos rápidos 2026 WeCoded", "préstamos rápidos") == (
        "Join the 2026 WeCoded"
    )
    assert cut("investment advice तुरंत लोन or portray", "तुरंत लोन") == (
        "investment advice or portray"
    )
    assert cut("The text ends. Visit jili777.vip now!", "Visit jili777.vip now!") == (
        "The text ends."
    )
    assert cut("Visit jili777.vip now! The text starts", "Visit jili777.vip now!") == (
        "The text starts"
    )
    assert cut("end of it promo .", " promo") == "end of it."


def test_text_away_from_the_seams_is_untouched() -> None:
    text = "Keep  this double space, cut here ZZZ and go on."
    assert cut(text, "ZZZ ") == "Keep  this double space, cut here and go on."
    assert apply_spans("  unchanged  ", []) == "unchanged"


def test_sentences_do_not_end_inside_domains_or_numbers() -> None:
    text = "Prices rose 3.5 percent. Shop at jili777.vip today! 第一句。第二句"
    got = [text[a:b] for a, b in sentences(text)]
    assert got == ["Prices rose 3.5 percent.", "Shop at jili777.vip today!", "第一句。", "第二句"]


def test_a_splice_inside_a_word_the_page_uses_is_a_candidate() -> None:
    # An unseen brand spliced inside a word the article repeats: cutting it must fuse the two
    # halves back into that word, whatever the detector then decides.
    line = "Kowlzq77 jackpot spinsoon Harbour ferries resume service after the storm"
    scan = Scan.of([line], ARTICLE[1:])
    dense, _ = token_features(scan)
    score = dense[:, TOKEN_FEATURES.index("oov")]  # every unknown word is "hot"
    cands = candidates(scan, score, 0.5)
    joins = [(a, b) for a, b, k in zip(cands.start, cands.end, cands.kind) if k == KIND_JOIN]
    assert (4, 22) in joins
    assert cut(line, line[4:22]) == ARTICLE[0]


def test_candidates_of_a_clean_page_are_few() -> None:
    scan = Scan.of(ARTICLE)
    dense, _ = token_features(scan)
    cands = candidates(scan, np.zeros(len(scan.words)), 0.5)
    assert len(cands) == 0


def _candidate_texts(line: str, context: list[str], lexicon: frozenset[str] = frozenset(),
                     kind: int | None = None) -> set[str]:
    """Candidates of `line` when every word the page does not use elsewhere, and every word
    in a script foreign to the line, is "hot"."""
    scan = Scan.of([line], context, lexicon=lexicon)
    dense, _ = token_features(scan)
    score = np.maximum(dense[:, TOKEN_FEATURES.index("oov")],
                       dense[:, TOKEN_FEATURES.index("foreign")])
    cands = candidates(scan, score, 0.5)
    return {line[a:b] for a, b, k in zip(cands.start, cands.end, cands.kind)
            if kind is None or k == kind}


def test_a_split_word_rejoins_into_a_common_word_the_page_does_not_use() -> None:
    # `Search` occurs nowhere else on the page; the lexicon of common words vouches for it,
    # and the emoji glued before the keyword goes with it.
    line = "Sea🎰free followersrch the Kowloon timetable"
    lexicon = build_lexicon([["Search the timetable"]] * 3)
    assert "🎰free followers" in _candidate_texts(line, ARTICLE, lexicon, KIND_JOIN)
    assert "🎰free followers" not in _candidate_texts(line, ARTICLE, frozenset(), KIND_JOIN)


def test_a_join_never_cuts_out_the_pages_own_words() -> None:
    # Cutting `l be free to atten` out of `will be free to attend` leaves `wild`, a word of
    # the page, but the words cut are the page's own: no join.
    context = [*ARTICLE, "The wild ferries will be free to ride.", "Free rides attend the fair."]
    line = "The fair will be free to attend from Monday"
    assert "l be free to atten" not in _candidate_texts(line, context, kind=KIND_JOIN)


def test_a_join_never_breaks_an_inflected_common_word() -> None:
    # `depths` is no lexicon word, but `depth` is: cutting `rfish living at depth` out of
    # `anglerfish living at depths` (leaving `angles`) would break a real word, not a splice.
    lexicon = build_lexicon([["angles living depth"]] * 3)
    line = "They found a species of anglerfish living at depths of more than 2,000 metres."
    assert not _candidate_texts(line, ARTICLE, lexicon, KIND_JOIN)
    assert _is_lexicon_word("depths", lexicon) and _is_lexicon_word("depth", lexicon)
    assert _is_lexicon_word("living", lexicon)
    assert not _is_lexicon_word("withdrawalg'e", build_lexicon([["withdrawal"]] * 3))
    assert not _is_lexicon_word("bros", build_lexicon([["bro"]] * 3))  # stems of 4+ letters


def test_glued_symbols_and_brackets_go_with_the_span() -> None:
    got = _candidate_texts("Walmart’s Inventory Ma刷粉丝✅nagement Optimization", ARTICLE)
    assert "刷粉丝✅" in got
    got = _candidate_texts("usable by a wider audien[escort vavada]ce today", ARTICLE)
    assert "[escort vavada]" in got


def test_a_promo_in_another_script_is_a_tail_candidate_wherever_it_starts() -> None:
    line = "Do not try locking down SSH too early 출장마사지 예약은 https://m88.id, 100% 후불제."
    assert "출장마사지 예약은 https://m88.id, 100% 후불제." in _candidate_texts(line, ARTICLE)


def test_a_keyword_glued_to_the_next_word_is_cut_at_the_seam() -> None:
    context = [*ARTICLE, "Water and safety are what me and the harbour staff check."]
    got = _candidate_texts("Material in water safety massage near meand the staff", context)
    assert "massage near me" in got


def test_a_bracketed_keyword_inside_a_word_rejoins_it() -> None:
    # The brackets are what the keyword wears, not clause punctuation the cut would cross.
    context = [*ARTICLE, "The master timetable of the ferries is posted at the piers."]
    line = "The M[cheap cialis]aster plan for the Kowloon piers"
    assert "[cheap cialis]" in _candidate_texts(line, context, kind=KIND_JOIN)
    assert cut(line, "[cheap cialis]") == "The Master plan for the Kowloon piers"
    # A cut across a clause still is no join.
    line = "The Mas, cheap cialisster plan for the Kowloon piers"
    assert not _candidate_texts(line, context, kind=KIND_JOIN)


def test_lexicon_is_common_real_words() -> None:
    pages = [["The Harbour ferries resume"], ["harbour ferries run"], ["Ferries, harbour!"],
             ["zq77 x9"]]
    assert build_lexicon(pages, min_pages=3) == frozenset({"harbour", "ferries"})


def test_span_features_have_one_name_per_column() -> None:
    line = "Kowlzq77 jackpot spinsoon Harbour ferries resume service after the storm"
    scan = Scan.of([line], ARTICLE[1:])
    dense, _ = token_features(scan)
    score = dense[:, TOKEN_FEATURES.index("oov")]
    cands = candidates(scan, score, 0.5)
    feats = span_features(scan, cands, score, None, dense[:, : len(TOKEN_FEATURES)])
    assert feats.shape == (len(cands), len(SPAN_FEATURES))


def test_a_long_word_of_a_script_without_spaces_is_one_candidate() -> None:
    # Thai and Chinese are one token per character: a keyword longer than the longest run
    # of tokens a candidate may span must still be reachable whole.
    line = "of them tutored mathematics in the past. หวยออนไลน์At the beginning of each term"
    assert "หวยออนไลน์" in _candidate_texts(line, ARTICLE)
    assert "「หวยออนไลน์」" in _candidate_texts("Check today's 「หวยออนไลน์」 now", ARTICLE)


def test_tokens_foreign_to_the_page_are_marked_when_they_are_most_of_their_line() -> None:
    # The promo is longer than the sentence it is glued to, so it sets the line's script; it
    # is still foreign to the page.
    line = "Take time. купить диплом любого вуза с доставкой, звоните сейчас."
    scan = Scan.of([*ARTICLE, line])
    dense, _ = token_features(scan)
    mine = scan.words.unit == len(ARTICLE)
    cyrillic = mine & (scan.words.first >= scan.text.start[len(ARTICLE)] + line.index("к"))
    to_page = dense[:, TOKEN_FEATURES.index("foreign_to_page")]
    to_unit = dense[:, TOKEN_FEATURES.index("foreign")]
    assert to_page[cyrillic].all() and not to_page[mine & ~cyrillic].any()
    assert not to_unit[cyrillic].any()


def test_common_words_of_the_language_are_told_from_words_no_page_uses() -> None:
    lexicon = build_lexicon([["the online timetable of the ferries"]] * 3)
    line = "Passengers check the online togel timetable"
    scan = Scan.of([line], ARTICLE, lexicon=lexicon)
    dense, _ = token_features(scan)
    base = int(scan.text.start[0])
    words = [line[a - base : b - base] for a, b in zip(scan.words.first, scan.words.last)]
    in_lexicon = dict(zip(words, dense[:, TOKEN_FEATURES.index("in_lexicon")]))
    assert in_lexicon["online"] == 1 and in_lexicon["timetable"] == 1
    assert in_lexicon["togel"] == 0 and in_lexicon["Passengers"] == 0
    share = dense[:, TOKEN_FEATURES.index("unit_lexicon_share")]
    assert np.allclose(share, 2 / 5)  # of its five words of four letters or more


def test_symbols_glued_to_a_word_are_marked() -> None:
    line = "one that 💰cheap youtube views★ feels intuitive, see the 3 ferries"
    scan = Scan.of([line], ARTICLE)
    dense, _ = token_features(scan)
    base = int(scan.text.start[0])
    words = [line[a - base : b - base] for a, b in zip(scan.words.first, scan.words.last)]
    left = dict(zip(words, dense[:, TOKEN_FEATURES.index("symbol_left")]))
    right = dict(zip(words, dense[:, TOKEN_FEATURES.index("symbol_right")]))
    assert left["cheap"] == 1 and right["views"] == 1
    assert left["youtube"] == right["youtube"] == left["feels"] == right["intuitive"] == 0


def test_a_keyword_between_the_words_of_a_common_pair_is_marked() -> None:
    # `researchers demonstrated` is a pair real pages use: once `data sgp` is cut out, what
    # is left reads as it did before the splice; cutting `researchers data` breaks a pair.
    pages = [["the researchers demonstrated that the ferries run"]] * 3
    line = "as the researchers data sgp demonstrated that the ferries run"
    scan = Scan.of([line], lexicon=build_lexicon(pages), bigrams=build_bigrams(pages))
    dense, _ = token_features(scan)
    score = np.zeros(len(scan.words))
    score[3:5] = 1.0  # `data sgp`
    cands = candidates(scan, score, 0.5)
    feats = span_features(scan, cands, score, None, dense[:, : len(TOKEN_FEATURES)])
    col = {name: feats[:, SPAN_FEATURES.index(name)] for name in
           ("pair_across_known", "pair_left_edge_known")}
    got = {line[a:b]: k for k, (a, b) in enumerate(zip(cands.start, cands.end))}
    assert col["pair_across_known"][got["data sgp"]] == 1
    assert col["pair_left_edge_known"][got["data sgp"]] == 0
    assert col["pair_across_known"][got["researchers data sgp"]] == 0
    assert col["pair_left_edge_known"][got["researchers data sgp"]] == 1
    # A one-word keyword: its neighbours pair without it, and it pairs with neither.
    line = "as the researchers togel demonstrated that the ferries run"
    scan = Scan.of([line], lexicon=build_lexicon(pages), bigrams=build_bigrams(pages))
    dense, _ = token_features(scan)
    togel = 3
    assert dense[togel, TOKEN_FEATURES.index("pair_skip_known")] == 1
    assert dense[togel, TOKEN_FEATURES.index("pair_prev_known")] == 0
    assert dense[togel, TOKEN_FEATURES.index("pair_next_known")] == 0
    assert (np.delete(dense[:, TOKEN_FEATURES.index("pair_skip_known")], togel) <= 0).all()


def test_word_pairs_are_those_many_pages_use() -> None:
    pages = [["the ferries run"], ["ferries run late"], ["ferries run"], ["zq77 jackpot"]]
    common = build_bigrams(pages, min_pages=3)
    scan = Scan.of(["ferries run", "zq77 jackpot"], lexicon=build_lexicon(pages),
                   bigrams=common)
    dense, _ = token_features(scan)
    assert dense[:, TOKEN_FEATURES.index("pair_next_known")].tolist() == [1, -1, 0, -1]


def test_word_pairs_say_nothing_on_a_page_in_another_language() -> None:
    # No Russian pair is among the (English) common pairs: every pair would look broken, as
    # a splice's edges do, so the features are left out instead.
    pages = [["the ferries run late"]] * 3
    line = "Операторы сообщили, что маршруты будут работать по расписанию"
    scan = Scan.of([line], lexicon=build_lexicon(pages), bigrams=build_bigrams(pages))
    dense, _ = token_features(scan)
    for name in ("pair_prev_known", "pair_next_known", "pair_skip_known"):
        assert (dense[:, TOKEN_FEATURES.index(name)] == -1).all()


def test_token_score_range_extremes_match_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(50)
    lo = rng.integers(0, 51, 400)
    hi = np.minimum(lo + rng.integers(0, 8, 400), 50)  # empty ranges and ranges ending at 50
    got_max, got_min = _range_max_min(values, lo, hi)
    for i in range(len(lo)):
        seg = values[lo[i]:hi[i]]
        assert got_max[i] == (seg.max() if len(seg) else 0.0)
        assert got_min[i] == (seg.min() if len(seg) else 0.0)


def test_only_a_unit_with_a_token_hot_enough_for_a_run_edge_gets_sentence_candidates() -> None:
    # A sentence candidate is long and most of what the text model reads: a line whose tokens
    # are all barely above the token threshold gets none, one with a token that could edge a
    # run gets its last sentence (where an appended promo sits) as a candidate.
    line = "The ferries run again since Monday. Get cheap zorbix credits at zorbix dot win today."
    scan = Scan.of([line], ARTICLE)
    unknown = token_features(scan)[0][:, TOKEN_FEATURES.index("oov")] > 0
    promo = "Get cheap zorbix credits at zorbix dot win today."

    def sentence_candidates(score: np.ndarray) -> set[str]:
        cands = candidates(scan, score, 0.05, edge_threshold=0.3)
        return {line[a:b] for a, b, k in zip(cands.start, cands.end, cands.kind)
                if k == KIND_SENTENCE}

    assert sentence_candidates(np.where(unknown, 0.1, 0.0)) == set()
    assert promo in sentence_candidates(np.where(unknown, 0.6, 0.0))


def _scored(line: str, context: list[str], scores: dict[str, float]) -> tuple[Scan, np.ndarray]:
    """A scan of `line` with the named tokens given those scores and every other token 0."""
    scan = Scan.of([line], context)
    w = scan.words
    text = scan.text.text
    score = np.array([scores.get(text[a:b], 0.0) for a, b in zip(w.first, w.last)])
    return scan, score


def test_a_warm_last_word_does_not_hide_where_a_glued_promo_begins() -> None:
    # `tasks` is barely warm and the promo's first word is hot: the tail that starts at the
    # promo's capital is a candidate, not only tails that start before `tasks`.
    line = ("Learn how to perform routine tasks Get 500 real followers instantly, cheap and "
            "safe at qqeype.asia.")
    scan, score = _scored(line, ARTICLE, {"tasks": 0.1, "Get": 0.99, "500": 0.7,
                                          "instantly": 0.6, "qqeype": 0.99})
    cands = candidates(scan, score, 0.05, edge_threshold=0.3)
    tails = {line[a:b] for a, b, k in zip(cands.start, cands.end, cands.kind)
             if k == KIND_SENTENCE}
    assert "Get 500 real followers instantly, cheap and safe at qqeype.asia." in tails


def test_copies_of_a_keyword_spliced_into_other_lines_do_not_vouch_for_it() -> None:
    # The keyword is in two more lines of the page, where it is as suspect as here: the page
    # does not "use" it, so the cut that rejoins `Social` is still tried.
    context = [*ARTICLE, "Social media posts about the ferries were shared widely.",
               "Jam Wi刷粉丝th the Pros!", "Listening 刷粉丝 skills of the crew improved."]
    line = "So刷粉丝cial Engagement"
    scan = Scan.of([line, *context[-2:]], context[:-2])
    w = scan.words
    hot = np.array([0.9 if "\u4e00" <= scan.text.text[a] <= "\u9fff" else 0.0
                    for a in w.first.tolist()])
    cands = candidates(scan, hot, 0.05, edge_threshold=0.3)
    joins = {(int(a), int(b)) for u, a, b, k in zip(cands.unit, cands.start, cands.end,
                                                    cands.kind) if u == 0 and k == KIND_JOIN}
    assert (2, 5) in joins
    assert cut(line, "刷粉丝") == "Social Engagement"
    # The page's own count says the other lines use `刷`; without suspect copies to leave
    # out it stands, and with them left out the keyword is used nowhere else.
    assert scan.df_other[1] > 0
    plain = scan.without_suspect_vouching(np.zeros(len(w), dtype=bool))
    assert (plain.df_other == scan.df_other).all()
    assert scan.without_suspect_vouching(hot >= 0.3).df_other[1] == 0


def test_a_cut_short_of_the_keyword_leaves_suspect_tokens_in_the_rest_of_its_line() -> None:
    line = "Passengers praised the cheap zorbix credits service of the harbour staff"
    scan, score = _scored(line, ARTICLE, {"cheap": 0.9, "zorbix": 0.95, "credits": 0.8})
    cands = candidates(scan, score, 0.05, edge_threshold=0.3)
    dense, _ = token_features(scan)
    feats = span_features(scan, cands, score, None, dense[:, : len(TOKEN_FEATURES)])
    by_text = {line[a:b]: row for a, b, row in zip(cands.start, cands.end, feats)}
    col = {name: SPAN_FEATURES.index(name) for name in
           ("rest_max_score", "near_max_score", "hot_covered", "unit_hot")}
    whole, short = by_text["cheap zorbix credits"], by_text["cheap zorbix"]
    assert whole[col["rest_max_score"]] == 0.0 and whole[col["hot_covered"]] == 1.0
    assert short[col["near_max_score"]] == 0.8 and short[col["hot_covered"]] < 1.0
    assert whole[col["unit_hot"]] == short[col["unit_hot"]] == np.log1p(3)


def test_a_token_glued_to_a_candidate_is_not_the_rest_of_its_line() -> None:
    # `I` is warm for being glued to the Korean keyword; the cut of the keyword alone is not
    # one word short of it.
    line = "They wanted to discuss this topic. 먹튀검증업체I think the ferries should run later."
    scan, score = _scored(line, ARTICLE, {"먹튀검증업체": 0.99, "I": 0.7})
    cands = candidates(scan, score, 0.05, edge_threshold=0.3)
    dense, _ = token_features(scan)
    feats = span_features(scan, cands, score, None, dense[:, : len(TOKEN_FEATURES)])
    row = next(r for a, b, r in zip(cands.start, cands.end, feats) if line[a:b] == "먹튀검증업체")
    assert row[SPAN_FEATURES.index("rest_max_score")] == 0.0
    assert row[SPAN_FEATURES.index("near_max_score")] == 0.0


def _with_scores(line: str, context: list[str], scores: dict[str, float],
                 lexicon: frozenset[str] = frozenset()) -> set[str]:
    """Candidates of `line` when its tokens score as `scores` says (by token text; 0 else)."""
    scan = Scan.of([line], context, lexicon=lexicon)
    w, base = scan.words, int(scan.text.start[0])
    score = np.array([scores.get(line[a - base:b - base], 0.0)
                      for a, b in zip(w.first, w.last)])
    cands = candidates(scan, score, 0.05)
    return {line[a:b] for a, b in zip(cands.start, cands.end)}


def test_a_glued_keyword_in_a_script_without_spaces_is_whole_though_its_first_char_is_cold(
) -> None:
    # The token scorer warms to `粉` and `丝` but barely to `刷`: the whole glued stretch is
    # still one candidate, not only the part above the run's edge.
    line = "What are the 刷粉丝different phases of the Kowloon ferries timetable?"
    got = _with_scores(line, ARTICLE, {"刷": 0.02, "粉": 0.16, "丝": 0.35})
    assert "刷粉丝" in got
    # In a line of that script itself a glued stretch is a clause, not a keyword.
    assert "渡轮恢复了服务" not in _with_scores("渡轮恢复了服务，乘客很多。", ARTICLE, {"恢": 0.4})


def test_a_warm_first_word_of_a_keyword_edges_a_candidate() -> None:
    # Only the keyword's last word is hot enough to edge a run; its first two are warm.
    line = "Choosing to review only those ferries which we thoroughly xổ số npf68 enjoyed."
    got = _with_scores(line, ARTICLE, {"xổ": 0.06, "số": 0.29, "npf68": 0.37})
    assert "xổ số npf68" in got
    assert "số npf68" in got  # the hot one alone and the warm ones are all tried


def test_a_cold_word_broken_by_a_splice_still_gets_its_join() -> None:
    # `Annhelvetetotated`: every token of it scores 0, but cutting `helvetet` rejoins a common
    # word, which is what vouches for a join; an unknown word that rejoins nothing gets none.
    lexicon = build_lexicon([["annotated ferries and the harbour timetable"]] * 3)
    line = "The Kowloon ferries timetable, Annhelvetetotated by the harbour."
    assert "helvetet" in _with_scores(line, ARTICLE, {}, lexicon)
    assert not _with_scores("The Kowloon ferries timetable, Zorbelmax by the harbour.",
                            ARTICLE, {}, lexicon)


def test_a_candidate_is_judged_against_the_rivals_it_overlaps_in_its_own_unit(
        monkeypatch) -> None:  # noqa: ANN001
    import cleaner.spans
    from cleaner.spans import Candidates, _rivals_best

    # unit 0: [0,4) and [2,6) overlap, [6,9) touches neither; unit 1 overlaps nothing of 0
    unit, start, end = np.array([0, 0, 0, 1]), np.array([0, 2, 6, 1]), np.array([4, 6, 9, 5])
    z = np.zeros(4, dtype=np.int64)
    cands = Candidates(unit, start, end, z, z, z, z)
    best = _rivals_best(cands, np.array([0.2, 0.6, 0.1, 0.9]))
    assert best.tolist() == [0.6, 0.6, 0.1, 0.9]
    # A line of many candidates is compared a block of rows at a time, to the same answer.
    monkeypatch.setattr(cleaner.spans, "RIVAL_BLOCK", 1)
    assert _rivals_best(cands, np.array([0.2, 0.6, 0.1, 0.9])).tolist() == best.tolist()
