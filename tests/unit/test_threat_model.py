"""Threat model (clauses S1-S4): sizes (e_i, n'_i) per attack, pooling, validation.

Expected sizes come from the table under Theorem 1 (paper, Section 4.2): modify
e = n - r, n' = n; add e = n, n' = n + r; delete e = n' = n - r.  The baseline pools
all modalities into one list (paper, Section 5.1, "Compared Method").
"""

from __future__ import annotations

import numpy as np
import pytest

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.threat_model import (
    Attack,
    Budget,
    Method,
    Setting,
    attacked_sizes,
    check_alpha,
    max_radius_multiplier,
    parse_attacks,
)


@pytest.mark.parametrize(
    "attack,e,n_prime",
    [
        # n = (108, 79380), r = (8, 24): hand arithmetic from the table
        ("modify", (100, 79356), (108, 79380)),
        ("add", (108, 79380), (116, 79404)),
        ("delete", (100, 79356), (100, 79356)),
    ],
)
def test_sizes_per_attack(attack, e, n_prime):
    sizes = attacked_sizes(Setting((108, 79380), (5, 1000)), Budget((8, 24), (attack,)))
    assert sizes.n == (108, 79380)
    assert sizes.e == e
    assert sizes.n_prime == n_prime
    assert sizes.k == (5, 1000)


def test_mixed_attacks_per_modality():
    # modality 1 modified by 2 of 10 (e = 8, n' = 10); modality 2 gets 3 added to 7 (e = 7, n' = 10);
    # modality 3 loses 1 of 4 (e = n' = 3)
    sizes = attacked_sizes(
        Setting((10, 7, 4), (1, 2, 3)), Budget((2, 3, 1), ("modify", "add", "delete"))
    )
    assert sizes.e == (8, 7, 3)
    assert sizes.n_prime == (10, 10, 3)


@pytest.mark.parametrize(
    "attack,e,n_prime",
    [
        # pooled n = 108 + 79380 = 79488, pooled r = 8 + 24 = 32
        ("modify", (79456,), (79488,)),
        ("add", (79488,), (79520,)),
        ("delete", (79456,), (79456,)),
    ],
)
def test_pooled_sizes(attack, e, n_prime):
    sizes = attacked_sizes(Setting((108, 79380), (3000,), Method.ABLATION), Budget((8, 24), (attack,)))
    assert sizes.n == (79488,)
    assert sizes.e == e
    assert sizes.n_prime == n_prime
    assert sizes.k == (3000,)


def test_zero_budget_is_identity():
    for attack in Attack:
        sizes = attacked_sizes(Setting((5, 6), (2, 3)), Budget((0, 0), (attack,)))
        assert sizes.e == sizes.n == sizes.n_prime == (5, 6)


def test_r_may_equal_n_for_modify():
    # modifying all 5 elements is a valid budget: e = 0 (P_e = 0, never certifiable, but valid)
    sizes = attacked_sizes(Setting((5,), (2,)), Budget((5,), ("modify",)))
    assert sizes.e == (0,) and sizes.n_prime == (5,)


@pytest.mark.parametrize(
    "setting_args,msg",
    [
        (((5, 6), (6, 3)), "exceeds"),  # k1 = 6 > n1 = 5
        (((5, 6), (2,)), "entries"),  # one k per modality
        (((5, -1), (2, 1)), "non-negative"),
        (((), ()), "empty"),
        (((5, 2.0), (1, 1)), "integer"),
        (((5, True), (1, 1)), "integer"),
    ],
)
def test_setting_rejects(setting_args, msg):
    with pytest.raises(InvalidParameterError, match=msg):
        Setting(*setting_args)


def test_ablation_setting_validation():
    with pytest.raises(InvalidParameterError, match="one pooled k"):
        Setting((5, 6), (2, 3), Method.ABLATION)
    with pytest.raises(InvalidParameterError, match="exceeds"):
        Setting((5, 6), (12,), Method.ABLATION)  # 12 > 5 + 6
    # k may exceed a single modality's n when pooled: 8 <= 11
    Setting((5, 6), (8,), Method.ABLATION)


def test_numpy_integers_accepted():
    s = Setting((np.int64(5), np.int32(6)), (np.int64(2), np.uint8(3)))
    assert s.n == (5, 6) and s.k == (2, 3)
    assert all(type(v) is int for v in s.n + s.k)


@pytest.mark.parametrize(
    "n,k,r,attack,msg",
    [
        ((5,), (2,), (6,), "modify", "cannot modify"),
        ((5,), (2,), (6,), "delete", "cannot delete"),
        ((5,), (2,), (4,), "delete", "fewer than k"),  # 5 - 4 = 1 < 2
        ((5, 5), (2, 2), (1,), "modify", "entries"),
    ],
)
def test_budget_must_fit(n, k, r, attack, msg):
    with pytest.raises(InvalidParameterError, match=msg):
        attacked_sizes(Setting(n, k), Budget(r, (attack,)))


def test_delete_leaving_exactly_k_is_valid():
    sizes = attacked_sizes(Setting((5,), (2,)), Budget((3,), ("delete",)))
    assert sizes.e == sizes.n_prime == (2,)


def test_pooled_delete_leaving_fewer_than_k():
    # pooled: 11 - 4 = 7 < 8
    with pytest.raises(InvalidParameterError, match="fewer than k"):
        attacked_sizes(Setting((5, 6), (8,), Method.ABLATION), Budget((2, 2), ("delete",)))
    # 11 - 3 = 8 >= 8 is fine
    sizes = attacked_sizes(Setting((5, 6), (8,), Method.ABLATION), Budget((2, 1), ("delete",)))
    assert sizes.n_prime == (8,)


def test_add_any_amount():
    sizes = attacked_sizes(Setting((5,), (5,)), Budget((10**6,), ("add",)))
    assert sizes.n_prime == (10**6 + 5,) and sizes.e == (5,)


def test_parse_attacks():
    assert parse_attacks("modify", 3) == (Attack.MODIFY,) * 3
    assert parse_attacks("Modify, ADD ,delete", 3) == (Attack.MODIFY, Attack.ADD, Attack.DELETE)
    assert parse_attacks(Attack.ADD, 2) == (Attack.ADD, Attack.ADD)
    assert parse_attacks(["add", Attack.DELETE], 2) == (Attack.ADD, Attack.DELETE)
    with pytest.raises(InvalidParameterError, match="unknown attack"):
        parse_attacks("swap", 2)
    with pytest.raises(InvalidParameterError, match="2 attacks given for 3"):
        parse_attacks("add,delete", 3)


@pytest.mark.parametrize(
    "n,k,ratio,attack,method,expected",
    [
        # MMCert: min over modalities with c_i > 0 and not add of floor((n_i - k_i) / c_i)
        ((108, 79380), (5, 1000), (1, 1), ("modify", "modify"), Method.MMCERT, 103),  # min(103, 78380)
        ((108, 79380), (5, 1000), (1, 4), ("modify", "modify"), Method.MMCERT, 103),  # min(103, 19595)
        ((108, 79380), (5, 1000), (0, 1), ("modify", "modify"), Method.MMCERT, 78380),
        ((108, 79380), (5, 1000), (1, 1), ("add", "add"), Method.MMCERT, None),  # unbounded
        ((108, 79380), (5, 1000), (1, 1), ("add", "delete"), Method.MMCERT, 78380),
        # ablation: min(floor((79488 - 3000) / lost), n_i // c_i over modified/deleted modalities)
        # lost = 2 -> min(38244, 108 // 1, 79380 // 1) = 108 (modality 1 has only 108 frames to modify)
        ((108, 79380), (3000,), (1, 1), ("modify", "modify"), Method.ABLATION, 108),
        # lost = 1 -> min(76488, 79380 // 1) = 76488
        ((108, 79380), (3000,), (1, 1), ("add", "modify"), Method.ABLATION, 76488),
        ((108, 79380), (3000,), (1, 1), ("add", "add"), Method.ABLATION, None),
    ],
)
def test_max_radius_multiplier(n, k, ratio, attack, method, expected):
    attacks = tuple(Attack(a) for a in attack)
    assert max_radius_multiplier(Setting(n, k, method), ratio, attacks) == expected


def test_max_radius_multiplier_is_the_last_valid_budget_with_pe_positive():
    # at the limit every non-added modality keeps e_i >= k_i; one step beyond, some e_i < k_i
    s = Setting((20, 9), (3, 2))
    ratio, attacks = (2, 1), (Attack.MODIFY, Attack.DELETE)
    t = max_radius_multiplier(s, ratio, attacks)
    assert t == 7  # hand: min((20-3)//2, (9-2)//1) = min(8, 7)
    sizes = attacked_sizes(s, Budget((t * 2, t * 1), attacks))
    assert all(e >= k for e, k in zip(sizes.e, s.k))
    with pytest.raises(InvalidParameterError):  # t = 8 deletes 8 of 9 (< k = 2 left)
        attacked_sizes(s, Budget(((t + 1) * 2, (t + 1) * 1), attacks))


@pytest.mark.parametrize("bad", [0, 1, -0.5, 1.5, float("nan"), float("inf"), "abc", None])
def test_check_alpha_rejects(bad):
    with pytest.raises(InvalidParameterError):
        check_alpha(bad)


def test_check_alpha_accepts():
    assert check_alpha(0.001) == 0.001
    assert check_alpha("0.5") == 0.5


@pytest.mark.parametrize("attack", [Attack.MODIFY, Attack.DELETE])
def test_ablation_limit_respects_each_modality(attack):
    # hand: modality 1 has 10 elements, so at most t = 10 of them can be modified/deleted;
    # the pooled bound (1010 - 20) // 1 = 990 is looser
    s = Setting((10, 1000), (20,), Method.ABLATION)
    t = max_radius_multiplier(s, (1, 0), (attack, attack))
    assert t == 10
    attacked_sizes(s, Budget((t, 0), (attack, attack)))  # valid at the limit
