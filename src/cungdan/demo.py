"""Deterministic demo activity reports built from the five seed articles.

``demo_reports()`` returns reports in the ingest API's JSON shape. Ids are ``uuid5`` of a
fixed namespace and a stable key, so loading the demo twice yields duplicates, not new
events. Amounts are split with ``random.Random(fixed seed)``; sums are exact.

What comes from where:

* Seed 001 (Mù Cang Chải 137, ``ngay-cuoi-tuan-cung-dan``): every figure of the article
  (``ARTICLE_TOTALS``), spread over the district's communes and weekends of 2020-2022,
  some reports at district level. The article says only "3 years"; it cites Covid-19
  work, and Báo Yên Bái (29/02/2024) reports ~37,000 citizen turns for 2022 and ~208,000 for
  2023 alone, so the 50,000 of the article must cover 2020-2022. "Over/nearly N" is
  taken as N. The bloc's 500 workdays, 11 km road, 5 km lighting and 200 party-cell
  sessions and the military's ~6 km road (Nậm Khắt, Mồ Dề; "Mỏ Dẻ" in the article) are
  part of the district totals, not added on top.
* Seed 002 (Ba Bể 061, ``dan-van-kheo``, 2023): 128 models registered, 10 of them by
  individuals (unit text starts with "Cá nhân"); the Huyện ủy office model at Khuổi
  Tẩu (Phúc Lộc) and Thượng Giáo commune are included. The split over units and
  communes is invented.
* Seed 003 (Trường Sơn ward 14836, ``dan-van-kheo``, April 2023): 7 models recognised,
  one per report; the article names 6 of them, the 7th is taken from its paragraph on
  the political system. The Lê Lợi flower road carries 310 pots, 2 km, 310 million VND.
* Seed 004 (Sơn Thủy 15010, Quan Sơn, 2024): the article gives no activity counts, only
  16 party cells and ~270 members. So: one ``hoc-tap-lam-theo-bac`` report per model it
  names (10, ``models_registered`` 1 each) and one ``xuan-tinh-nguyen`` report for the
  youth union's launch with the Na Mèo border post (``cleanup_sessions`` 1, assumed).
* Seed 000 (Phú Bình 173, Phú Lương 168, 2024): the article has no figures. Illustrative
  monthly clean-ups on the second weekend of each month, January to November 2024
  (February moved to the weekend before Tết), marked "số liệu minh họa" in each note.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Final

from cungdan_contracts import AdminMap, Level, load_gazetteer

DEMO_NAMESPACE: Final = uuid.UUID("2d135495-56ca-5713-8c1a-e3a4f66801e1")

NCTCD: Final = "ngay-cuoi-tuan-cung-dan"
DAN_VAN_KHEO: Final = "dan-van-kheo"
HOC_TAP_BAC: Final = "hoc-tap-lam-theo-bac"
XUAN_TINH_NGUYEN: Final = "xuan-tinh-nguyen"

MU_CANG_CHAI: Final = "137"
NAM_KHAT: Final = "04495"
MO_DE: Final = "04468"
BA_BE: Final = "061"
PHUC_LOC: Final = "01894"
THUONG_GIAO: Final = "01912"
TRUONG_SON: Final = "14836"
QUAN_SON: Final = "387"
SON_THUY: Final = "15010"
PHU_LUONG: Final = "168"
DU: Final = "05611"
PHU_BINH: Final = "173"

BLOC_UNIT: Final = "Đảng bộ Khối Đảng - đoàn thể huyện Mù Cang Chải"
MILITARY_UNIT: Final = "Ban CHQS huyện Mù Cang Chải"
INDIVIDUAL_PREFIX: Final = "Cá nhân"

ARTICLE_TOTALS: Final[Mapping[tuple[str, str], Mapping[str, Decimal]]] = {
    (MU_CANG_CHAI, NCTCD): {
        "leader_cell_visits": Decimal(4600),
        "cadre_turns": Decimal(17500),
        "citizen_turns": Decimal(50000),
        "propaganda_sessions": Decimal(15300),
        "listener_turns": Decimal(300000),
        "road_km": Decimal(150),
        "houses_built": Decimal(98),
        "lighting_km": Decimal(30),
        "self_managed_roads": Decimal(77),
        "trees_planted": Decimal(15000),
        "flower_road_km": Decimal(80),
        "cleanup_sessions": Decimal(1400),
        "cleanup_road_km": Decimal(35),
        "toilets_built": Decimal(1700),
        "cement_tonnes": Decimal(2110),
        "terraced_field_ha": Decimal(150),
        "donations_vnd": Decimal(2400000000),
        "enterprises_founded": Decimal(15),
        "cooperatives_founded": Decimal(14),
        "cooperative_groups_founded": Decimal(247),
        "workdays": Decimal(500),
        "party_cell_sessions": Decimal(200),
    },
    (BA_BE, DAN_VAN_KHEO): {"models_registered": Decimal(128)},
    (TRUONG_SON, DAN_VAN_KHEO): {
        "models_recognised": Decimal(7),
        "flower_pots": Decimal(310),
        "flower_road_km": Decimal(2),
        "donations_vnd": Decimal(310000000),
    },
}

BLOC_FIGURES: Final[Mapping[str, Decimal]] = {
    "workdays": Decimal(500),
    "road_km": Decimal(11),
    "lighting_km": Decimal(5),
    "party_cell_sessions": Decimal(200),
}
MILITARY_ROAD_KM: Final = Decimal(6)
BA_BE_INDIVIDUAL_MODELS: Final = 10

# Granularity of the random splits; whatever is not listed is counted in whole units.
_QUANTUM: Final[Mapping[str, Decimal]] = {
    "road_km": Decimal("0.1"),
    "lighting_km": Decimal("0.1"),
    "flower_road_km": Decimal("0.1"),
    "cleanup_road_km": Decimal("0.1"),
    "terraced_field_ha": Decimal("0.1"),
    "cement_tonnes": Decimal("0.5"),
    "donations_vnd": Decimal(100000),
}

_NOTES: Final[Mapping[str, Sequence[str]]] = {
    "propaganda_sessions": (
        "Tuyên truyền chủ trương của Đảng, chính sách, pháp luật tại bản, tổ dân phố",
        "Tuyên truyền phòng, chống dịch Covid-19",
        "Tuyên truyền phòng, chống mua bán người, ma túy, tệ nạn xã hội",
        "Tuyên truyền bảo vệ môi trường, nói không với rác thải nhựa",
        "Họp bản, lắng nghe tâm tư, nguyện vọng của Nhân dân",
    ),
    "road_km": (
        "Bê tông hóa đường giao thông liên bản",
        "Tu sửa, mở mới đường nông thôn",
        "Đổ bê tông đường nội bản",
    ),
    "lighting_km": (
        "Duy trì đường điện thắp sáng đường quê",
        "Sửa chữa, thay bóng tuyến điện chiếu sáng trong bản",
    ),
    "cleanup_sessions": (
        "Tổng vệ sinh môi trường đường nông thôn",
        "Thu gom rác thải, phát quang đường bản",
    ),
    "cleanup_road_km": ("Tổng vệ sinh môi trường đường nông thôn",),
    "trees_planted": ("Trồng cây xanh ven đường bản, tổ dân phố",),
    "flower_road_km": ("Trồng hoa, làm đường hoa tại bản",),
    "self_managed_roads": ("Ra mắt mô hình tuyến đường tự quản",),
    "houses_built": (
        "Làm nhà cho hộ nghèo đặc biệt khó khăn",
        "Xóa nhà dột nát cho hộ nghèo",
    ),
    "toilets_built": ("Xây dựng nhà vệ sinh hợp vệ sinh cho hộ gia đình",),
    "cement_tonnes": ("Hỗ trợ xi măng làm đường, nhà vệ sinh",),
    "donations_vnd": (
        "Vận động ủng hộ xây dựng nông thôn mới (tiền mặt và hiện vật quy ra tiền)",
    ),
    "terraced_field_ha": ("Giúp Nhân dân khai hoang ruộng bậc thang",),
    "enterprises_founded": ("Hỗ trợ thành lập doanh nghiệp, hợp tác xã, tổ hợp tác",),
    "cooperatives_founded": ("Hỗ trợ thành lập hợp tác xã, tổ hợp tác",),
    "cooperative_groups_founded": ("Hướng dẫn thành lập tổ hợp tác sản xuất",),
    "cadre_turns": ("Cán bộ, đảng viên cùng Nhân dân làm công trình, phần việc tại bản",),
    "citizen_turns": ("Nhân dân cùng cán bộ, đảng viên làm công trình, phần việc tại bản",),
    "workdays": ("Ngày công tu sửa, mở mới, bê tông đường nông thôn tại bản phụ trách",),
    "party_cell_sessions": (
        "Sinh hoạt chi bộ bản: tuyên truyền nghị quyết, phòng chống bão lụt, dịch Covid-19",
    ),
}


@cache
def _legacy_wards(district_code: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of the communes of one legacy district, in code order."""
    gazetteer = load_gazetteer()
    district = gazetteer.get(AdminMap.LEGACY, district_code)
    if district is None or district.level is not Level.DISTRICT:
        raise LookupError(f"no legacy district {district_code}")
    return tuple((c.code, c.name) for c in gazetteer.children(AdminMap.LEGACY, district_code))


@dataclass
class _Draft:
    key: str
    campaign: str
    locality: str
    date: dt.date
    unit: str
    note: str = ""
    measures: dict[str, Decimal] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "id": str(uuid.uuid5(DEMO_NAMESPACE, self.key)),
            "campaign": self.campaign,
            "locality": self.locality,
            "date": self.date.isoformat(),
            "unit": self.unit,
            "measures": {k: format(v.normalize(), "f") for k, v in self.measures.items()},
            "note": self.note,
        }


@dataclass(frozen=True)
class _Theme:
    name: str
    count: int
    core: tuple[str, ...]
    optional: tuple[str, ...]
    units: tuple[tuple[str, bool], ...]  # (unit, True if reported for the whole district)


def _place(ward_name: str) -> str:
    """'Xã Nậm Có' -> 'xã Nậm Có', for use inside a unit name."""
    return ward_name[:1].lower() + ward_name[1:]


def _split(total: Decimal, parts: int, quantum: Decimal, rng: random.Random) -> list[Decimal]:
    """Split ``total`` into ``parts`` positive multiples of ``quantum`` summing exactly."""
    units = total / quantum
    if units != units.to_integral_value() or int(units) < parts or parts < 1:
        raise ValueError(f"cannot split {total} into {parts} parts of {quantum}")
    extra = int(units) - parts
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    raw = [extra * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(parts), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in by_remainder[: extra - sum(counts)]:
        counts[i] += 1
    shares = [(c + 1) * quantum for c in counts]
    if sum(shares) != total:
        raise ArithmeticError(f"split of {total} does not add up")
    return shares


def _distribute(
    takers: Mapping[str, Sequence[_Draft]], totals: Mapping[str, Decimal], rng: random.Random
) -> None:
    """Give each draft listed under an indicator its share of that indicator's total."""
    for indicator, total in totals.items():
        drafts = takers.get(indicator, ())
        if not drafts:
            raise ValueError(f"no report takes {indicator}")
        quantum = _QUANTUM.get(indicator, Decimal(1))
        for draft, amount in zip(drafts, _split(total, len(drafts), quantum, rng), strict=True):
            draft.measures[indicator] = amount


def _pick_subsets(
    core: Sequence[str], optional: Sequence[str], count: int, rng: random.Random
) -> list[list[str]]:
    """``count`` non-empty indicator lists: all of ``core``, about half of ``optional``,
    each optional indicator in at least one list."""
    chosen: list[list[str]] = []
    for _ in range(count):
        picks = [*core, *(k for k in optional if rng.random() < 0.5)]
        chosen.append(picks or [rng.choice(optional)])
    for indicator in optional:
        if not any(indicator in picks for picks in chosen):
            rng.choice(chosen).append(indicator)
    return chosen


def _weekends(first: dt.date, last: dt.date) -> list[dt.date]:
    days = (first + dt.timedelta(n) for n in range((last - first).days + 1))
    return [d for d in days if d.weekday() >= 5]


def _weekdays(first: dt.date, last: dt.date) -> list[dt.date]:
    days = (first + dt.timedelta(n) for n in range((last - first).days + 1))
    return [d for d in days if d.weekday() < 5]


def _second_saturday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta((5 - first.weekday()) % 7 + 7)


def _last_saturday(year: int, month: int) -> dt.date:
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return last - dt.timedelta((last.weekday() - 5) % 7)


_MCC_THEMES: Final = (
    _Theme(
        "propaganda", 22, ("propaganda_sessions", "listener_turns"), (),
        (
            ("Ban Tuyên giáo Huyện ủy Mù Cang Chải", True),
            ("Trung tâm Truyền thông - Văn hóa huyện Mù Cang Chải", True),
            ("Đảng ủy {place}", False),
            ("Đảng ủy {place}", False),
            ("Công an huyện Mù Cang Chải", False),
            ("Hội Liên hiệp Phụ nữ huyện Mù Cang Chải", False),
        ),
    ),
    _Theme(
        "road", 26, ("road_km",), ("cement_tonnes", "cadre_turns", "citizen_turns"),
        (
            ("Đảng ủy {place}", False),
            ("UBND {place}", False),
            ("Liên đoàn Lao động huyện Mù Cang Chải", False),
            ("Huyện đoàn Mù Cang Chải", False),
            ("Công an huyện Mù Cang Chải", False),
            ("Hội Cựu chiến binh huyện Mù Cang Chải", False),
        ),
    ),
    _Theme(
        "lighting", 8, ("lighting_km",), ("cadre_turns", "citizen_turns"),
        (
            ("Đảng ủy {place}", False),
            ("Huyện đoàn Mù Cang Chải", False),
            ("Hội Liên hiệp Phụ nữ huyện Mù Cang Chải", False),
        ),
    ),
    _Theme(
        "environment", 24, (),
        ("cleanup_sessions", "cleanup_road_km", "trees_planted", "flower_road_km",
         "self_managed_roads"),
        (
            ("Hội Liên hiệp Phụ nữ huyện Mù Cang Chải", False),
            ("Huyện đoàn Mù Cang Chải", False),
            ("Công an huyện Mù Cang Chải", False),
            ("Đảng ủy {place}", False),
            ("Ủy ban MTTQ {place}", False),
            ("Hội Nông dân huyện Mù Cang Chải", False),
        ),
    ),
    _Theme(
        "housing", 14, (),
        ("houses_built", "toilets_built", "cement_tonnes", "cadre_turns", "citizen_turns"),
        (
            ("Ủy ban MTTQ huyện Mù Cang Chải", False),
            (MILITARY_UNIT, False),
            ("Hội Cựu chiến binh huyện Mù Cang Chải", False),
            ("Đảng ủy {place}", False),
            ("Hội Liên hiệp Phụ nữ huyện Mù Cang Chải", False),
        ),
    ),
    _Theme(
        "donations", 8, ("donations_vnd",), ("cement_tonnes",),
        (
            ("Ủy ban MTTQ huyện Mù Cang Chải", True),
            ("Ban Chỉ đạo xây dựng nông thôn mới huyện Mù Cang Chải", True),
            ("Ủy ban MTTQ {place}", False),
        ),
    ),
    _Theme(
        "terraces", 8, ("terraced_field_ha",), ("citizen_turns", "cadre_turns"),
        (
            ("Đảng ủy {place}", False),
            ("Phòng Nông nghiệp và PTNT huyện Mù Cang Chải", False),
            ("Hội Nông dân huyện Mù Cang Chải", False),
        ),
    ),
    _Theme(
        "economy", 8, (),
        ("enterprises_founded", "cooperatives_founded", "cooperative_groups_founded"),
        (
            ("Phòng Tài chính - Kế hoạch huyện Mù Cang Chải", True),
            ("UBND {place}", False),
        ),
    ),
)


def _seed001(rng: random.Random) -> list[_Draft]:
    """Mù Cang Chải, three years of 'Ngày cuối tuần cùng dân' (2020-2022)."""
    wards = dict(_legacy_wards(MU_CANG_CHAI))
    communes = sorted(wards)
    weekends = _weekends(dt.date(2020, 1, 1), dt.date(2022, 12, 31))
    drafts: list[_Draft] = []
    takers: dict[str, list[_Draft]] = {}

    def new(key: str, locality: str, date: dt.date, unit: str, takes: Sequence[str]) -> _Draft:
        draft = _Draft(f"001/{key}", NCTCD, locality, date, unit)
        drafts.append(draft)
        for indicator in takes:
            takers.setdefault(indicator, []).append(draft)
        return draft

    for q in range(12):  # district-level quarterly summaries of leaders' visits
        year, quarter = 2020 + q // 4, q % 4 + 1
        draft = new(
            f"leaders/{year}-q{quarter}", MU_CANG_CHAI, _last_saturday(year, 3 * quarter),
            "Ban Tổ chức Huyện ủy Mù Cang Chải", ("leader_cell_visits",),
        )
        draft.note = f"Quý {quarter}/{year}: lãnh đạo huyện dự sinh hoạt chi bộ, đảng bộ cơ sở"

    # The bloc's and the military's own figures, part of the district totals.
    bloc_takers: dict[str, list[_Draft]] = {}
    for i, own in enumerate(_pick_subsets((), tuple(BLOC_FIGURES), 8, rng)):
        draft = new(f"bloc/{i}", rng.choice(communes), rng.choice(weekends), BLOC_UNIT,
                    ("cadre_turns",))
        draft.note = _NOTES[own[0]][0]
        for indicator in own:
            bloc_takers.setdefault(indicator, []).append(draft)
    _distribute(bloc_takers, BLOC_FIGURES, rng)

    military_takers: dict[str, list[_Draft]] = {"road_km": []}
    for commune in (NAM_KHAT, MO_DE):
        draft = new(f"military/{commune}", commune, rng.choice(weekends), MILITARY_UNIT,
                    ("citizen_turns", "cement_tonnes"))
        spelled = " (bài báo viết 'Mỏ Dẻ')" if commune == MO_DE else ""
        draft.note = f"Phối hợp dân quân xã mở mới đường nông thôn tại {_place(wards[commune])}"
        draft.note += spelled
        military_takers["road_km"].append(draft)
    _distribute(military_takers, {"road_km": MILITARY_ROAD_KM}, rng)

    for theme in _MCC_THEMES:
        chosen = _pick_subsets(theme.core, theme.optional, theme.count, rng)
        for i, picks in enumerate(chosen):
            unit, district_level = rng.choice(theme.units)
            commune = rng.choice(communes)
            locality = MU_CANG_CHAI if district_level else commune
            unit = unit.format(place=_place(wards[commune]))
            draft = new(f"{theme.name}/{i:02d}", locality, rng.choice(weekends), unit, picks)
            draft.note = rng.choice(_NOTES[picks[0]])

    totals = ARTICLE_TOTALS[(MU_CANG_CHAI, NCTCD)]
    already = {
        "road_km": BLOC_FIGURES["road_km"] + MILITARY_ROAD_KM,
        "lighting_km": BLOC_FIGURES["lighting_km"],
        "workdays": BLOC_FIGURES["workdays"],
        "party_cell_sessions": BLOC_FIGURES["party_cell_sessions"],
    }
    rest = {k: v - already.get(k, Decimal(0)) for k, v in totals.items()}
    _distribute(takers, {k: v for k, v in rest.items() if v}, rng)
    return drafts


def _seed002(rng: random.Random) -> list[_Draft]:
    """Ba Bể, 'Dân vận khéo' 2023: 128 models registered, 10 of them by individuals."""
    wards = _legacy_wards(BA_BE)
    names = dict(wards)
    days = _weekdays(dt.date(2023, 1, 3), dt.date(2023, 4, 28))
    office = _Draft(
        "002/huyen-uy-office", DAN_VAN_KHEO, PHUC_LOC, dt.date(2023, 1, 16),
        "Chi bộ Văn phòng Huyện ủy Ba Bể",
        "Mô hình 'Vận động nhân dân xây dựng và bảo vệ môi trường xanh, sạch, đẹp',"
        " thôn Khuổi Tẩu",
        {"models_registered": Decimal(1)},
    )
    organisations: list[_Draft] = []
    for code, name in wards:
        note = "Đăng ký mô hình 'Dân vận khéo' năm 2023"
        if code == THUONG_GIAO:
            note += ": duy trì tiêu chí môi trường xã nông thôn mới, tu sửa đường liên thôn"
        organisations.append(_Draft(
            f"002/commune/{code}", DAN_VAN_KHEO, code, rng.choice(days),
            f"Đảng ủy {_place(name)}", note,
        ))
    for unit in (
        "Ban Dân vận Huyện ủy Ba Bể", "Ủy ban MTTQ huyện Ba Bể", "Huyện đoàn Ba Bể",
        "Hội Liên hiệp Phụ nữ huyện Ba Bể", "Hội Nông dân huyện Ba Bể",
        "Hội Cựu chiến binh huyện Ba Bể", "Công an huyện Ba Bể", "Ban CHQS huyện Ba Bể",
        "Liên đoàn Lao động huyện Ba Bể", "UBND huyện Ba Bể",
    ):
        organisations.append(_Draft(
            f"002/district/{unit}", DAN_VAN_KHEO, BA_BE, rng.choice(days), unit,
            "Đăng ký mô hình 'Dân vận khéo' năm 2023 (kinh tế - xã hội, giảm nghèo, an ninh)",
        ))
    total = ARTICLE_TOTALS[(BA_BE, DAN_VAN_KHEO)]["models_registered"]
    rest = total - 1 - BA_BE_INDIVIDUAL_MODELS
    _distribute({"models_registered": organisations}, {"models_registered": rest}, rng)
    individuals = []
    for i in range(BA_BE_INDIVIDUAL_MODELS):
        code = rng.choice(sorted(names))
        individuals.append(_Draft(
            f"002/individual/{i}", DAN_VAN_KHEO, code, rng.choice(days),
            f"{INDIVIDUAL_PREFIX}: đảng viên Đảng bộ {_place(names[code])}",
            "Mô hình 'Dân vận khéo' cá nhân đăng ký năm 2023",
            {"models_registered": Decimal(1)},
        ))
    return [office, *organisations, *individuals]


def _seed003() -> list[_Draft]:
    """Trường Sơn ward (Sầm Sơn), April 2023: 7 'Dân vận khéo' models recognised."""
    one = {"models_recognised": Decimal(1)}
    models = (
        ("Khối dân vận phường Trường Sơn", dt.date(2023, 4, 4),
         "Mô hình 'Đảm bảo mỹ quan đô thị đường hoa Lê Lợi': 310 chậu hoa giấy trên 2 km,"
         " từ đường Hồ Xuân Hương đến đường Lý Tự Trọng, cầu Bình Hòa",
         {**one, "flower_pots": Decimal(310), "flower_road_km": Decimal(2),
          "donations_vnd": Decimal(310000000)}),
        ("Hội Nông dân phường Trường Sơn", dt.date(2023, 4, 6),
         "Mô hình 'Tổ tiết kiệm hỗ trợ hội viên nông dân khó khăn'", one),
        ("UBND phường Trường Sơn", dt.date(2023, 4, 11),
         "Mô hình 'Vận động Nhân dân xây dựng chợ đảm bảo an toàn thực phẩm'", one),
        ("Ủy ban MTTQ phường Trường Sơn", dt.date(2023, 4, 13),
         "Mô hình 'Đường điện thắp sáng khu dân cư'", one),
        ("Hội Liên hiệp Phụ nữ phường Trường Sơn", dt.date(2023, 4, 18),
         "Mô hình 'Ngôi nhà trí tuệ'", one),
        ("Chi bộ khu dân cư phường Trường Sơn", dt.date(2023, 4, 20),
         "Mô hình 'Cụm dân cư kiểu mẫu'", one),
        ("Đảng ủy phường Trường Sơn", dt.date(2023, 4, 25),
         "Mô hình tăng cường tiếp dân, đối thoại, giải quyết kiến nghị của Nhân dân", one),
    )
    return [
        _Draft(f"003/model/{i}", DAN_VAN_KHEO, TRUONG_SON, date, unit, note, dict(measures))
        for i, (unit, date, note, measures) in enumerate(models)
    ]


def _seed004() -> list[_Draft]:
    """Sơn Thủy commune (Quan Sơn), 2024: models named in the article, Xuân tình nguyện."""
    if SON_THUY not in dict(_legacy_wards(QUAN_SON)):
        raise LookupError(f"{SON_THUY} is not in legacy district {QUAN_SON}")
    models = (
        ("Công an xã Sơn Thủy", "Khu dân cư không có tội phạm và tệ nạn xã hội"),
        ("Hội Liên hiệp Phụ nữ xã Sơn Thủy", "Đoạn đường tự quản"),
        ("Đoàn Thanh niên xã Sơn Thủy", "Thắp sáng đường quê"),
        ("Hội Nông dân xã Sơn Thủy", "Thu gom rác thải trong sinh hoạt ở khu dân cư"),
        ("Hội Khuyến học xã Sơn Thủy", "Dòng họ khuyến học, khuyến tài"),
        ("Ủy ban MTTQ xã Sơn Thủy", "Thôn xóm bình yên, gia đình hòa thuận"),
        ("Đảng ủy xã Sơn Thủy", "Dân vận khéo, làm theo phong cách gần dân, sát dân"),
        ("Ủy ban MTTQ xã Sơn Thủy",
         "Toàn dân đoàn kết xây dựng đời sống văn hóa, chung tay bảo vệ môi trường"
         " sáng - xanh - sạch - đẹp"),
        ("Hội Cựu chiến binh xã Sơn Thủy", "Tuyến đường hoa"),
        ("UBND xã Sơn Thủy", "Nghe dân nói, nói dân nghe"),
    )
    drafts = [
        _Draft(
            f"004/model/{i}", HOC_TAP_BAC, SON_THUY, dt.date(2024, 1, 8) + dt.timedelta(i * 3),
            unit, f"Mô hình học tập và làm theo Bác: '{name}'",
            {"models_registered": Decimal(1)},
        )
        for i, (unit, name) in enumerate(models)
    ]
    drafts.append(_Draft(
        "004/xuan-tinh-nguyen-2024", XUAN_TINH_NGUYEN, SON_THUY, dt.date(2024, 1, 27),
        "Đoàn Thanh niên xã Sơn Thủy phối hợp Đồn Biên phòng Cửa khẩu quốc tế Na Mèo",
        "Ra quân 'Xuân tình nguyện năm 2024' (bài báo không nêu số liệu; 1 buổi ra quân)",
        {"cleanup_sessions": Decimal(1)},
    ))
    return drafts


def _seed000(rng: random.Random) -> list[_Draft]:
    """Phú Bình and Phú Lương, illustrative monthly clean-ups of 2024 (no article figures)."""
    drafts: list[_Draft] = []
    districts = (
        (PHU_BINH, "Phú Bình", ("Khối cơ quan, trường học huyện Phú Bình",
                                "Phòng Giáo dục và Đào tạo huyện Phú Bình",
                                "Huyện đoàn Phú Bình", "Đảng ủy {place}")),
        (PHU_LUONG, "Phú Lương", ("Cơ quan Huyện ủy Phú Lương",
                                  "Hội Liên hiệp Phụ nữ huyện Phú Lương",
                                  "UBND {place}", "Đảng ủy {place}")),
    )
    for month in range(1, 12):
        date = _second_saturday(2024, month)
        when = f"cuối tuần thứ hai tháng {month}/2024"
        if month == 2:  # 10/02/2024 is Tết Giáp Thìn: the weekend before
            date, when = dt.date(2024, 2, 3), "cuối tuần trước Tết Giáp Thìn"
        for district, district_name, units in districts:
            wards = dict(_legacy_wards(district))
            if district == PHU_LUONG:
                places = [DU, rng.choice([c for c in sorted(wards) if c != DU])]
            else:
                places = rng.sample(sorted(wards), 2)
            for code in places:
                measures = {
                    "cleanup_sessions": Decimal(1),
                    "cleanup_road_km": Decimal(rng.randint(5, 30)) / 10,
                    "cadre_turns": Decimal(rng.randint(40, 160)),
                    "citizen_turns": Decimal(rng.randint(60, 300)),
                }
                if district == PHU_LUONG and rng.random() < 0.3:
                    measures["trees_planted"] = Decimal(rng.randint(5, 30) * 10)
                unit = rng.choice(units).format(place=_place(wards[code]))
                drafts.append(_Draft(
                    f"000/{district}/2024-{month:02d}/{code}", NCTCD, code,
                    date + dt.timedelta(rng.randint(0, 1)), unit,
                    f"Ngày cuối tuần cùng dân ({when}), huyện {district_name}: dọn vệ sinh,"
                    " thu gom rác, phát quang, nạo vét kênh mương. Số liệu minh họa,"
                    " bài báo không nêu số liệu.",
                    measures,
                ))
    return drafts


def demo_reports() -> list[dict[str, object]]:
    """All demo activity reports, in the ingest API's JSON shape; same output every call."""
    groups = (
        _seed000(random.Random(2024_000)),
        _seed001(random.Random(2024_001)),
        _seed002(random.Random(2024_002)),
        _seed003(),
        _seed004(),
    )
    reports: list[dict[str, object]] = []
    for drafts in groups:
        for draft in sorted(drafts, key=lambda d: (d.date, d.locality, d.key)):
            if not 1 <= len(draft.measures) <= 5:
                raise AssertionError(f"{draft.key}: {len(draft.measures)} measures")
            reports.append(draft.to_json())
    return reports
