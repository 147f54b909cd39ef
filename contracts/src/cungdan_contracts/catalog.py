"""The campaign and indicator catalogs: the codes a report may use.

An indicator fixes its unit and its precision (``scale``: decimal places allowed),
so a report carries bare quantities and can never mix km with m or đồng with
million đồng. Quantities are stored downstream as integers of 10**-scale units.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Indicator:
    code: str
    label_vi: str
    label_en: str
    unit: str
    scale: int = 0
    """Decimal places allowed; 0 for whole counts and whole đồng."""

    @property
    def is_integer(self) -> bool:
        return self.scale == 0


@dataclass(frozen=True, slots=True)
class Campaign:
    code: str
    name_vi: str
    name_en: str


_INDICATORS = (
    Indicator("leader_cell_visits", "lượt lãnh đạo dự sinh hoạt chi bộ",
              "leader visits to party-cell meetings", "person-turns"),
    Indicator("cadre_turns", "lượt cán bộ, đảng viên, CCVC, NLĐ tham gia",
              "cadre, party member and civil servant turns", "person-turns"),
    Indicator("citizen_turns", "lượt người dân tham gia", "citizen turns", "person-turns"),
    Indicator("workdays", "ngày công", "workdays", "person-days"),
    Indicator("propaganda_sessions", "buổi tuyên truyền", "propaganda sessions", "sessions"),
    Indicator("listener_turns", "lượt người nghe", "listener turns", "person-turns"),
    Indicator("party_cell_sessions", "buổi sinh hoạt chi bộ (tham gia)",
              "party-cell sessions attended", "sessions"),
    Indicator("road_km", "km đường nông thôn làm mới, tu sửa, bê tông",
              "km of rural road built, repaired or concreted", "km", 3),
    Indicator("lighting_km", "km đường điện thắp sáng", "km of lighting line", "km", 3),
    Indicator("self_managed_roads", "tuyến đường tự quản", "self-managed roads", "roads"),
    Indicator("trees_planted", "cây xanh trồng mới", "trees planted", "trees"),
    Indicator("flower_road_km", "km đường hoa", "km of flower road", "km", 3),
    Indicator("flower_pots", "chậu hoa", "flower pots", "pots"),
    Indicator("cleanup_sessions", "buổi tổng vệ sinh môi trường", "clean-up sessions",
              "sessions"),
    Indicator("cleanup_road_km", "km đường được tổng vệ sinh", "km of road cleaned", "km", 3),
    Indicator("houses_built", "nhà cho hộ nghèo", "houses for poor households", "houses"),
    Indicator("toilets_built", "công trình nhà vệ sinh", "toilets built", "works"),
    Indicator("cement_tonnes", "tấn xi măng hỗ trợ", "tonnes of cement given", "tonnes", 3),
    Indicator("terraced_field_ha", "ha ruộng bậc thang khai hoang",
              "ha of terraced fields reclaimed", "ha", 4),
    Indicator("donations_vnd", "tiền mặt và hiện vật quy ra tiền",
              "cash and in-kind donations", "VND"),
    Indicator("enterprises_founded", "doanh nghiệp thành lập", "enterprises founded",
              "enterprises"),
    Indicator("cooperatives_founded", "hợp tác xã thành lập", "cooperatives founded",
              "cooperatives"),
    Indicator("cooperative_groups_founded", "tổ hợp tác thành lập",
              "cooperative groups founded", "groups"),
    Indicator("models_registered", "mô hình đăng ký", "models registered", "models"),
    Indicator("models_recognised", "mô hình được công nhận", "models recognised", "models"),
    # 1.2.0: gaps found against the source articles (appended: codes are never reordered).
    Indicator("houses_repaired", "nhà dột nát được sửa chữa (xóa nhà dột nát)",
              "dilapidated houses repaired", "houses"),
    Indicator("commitments_registered", "lượt cá nhân đăng ký làm theo Bác",
              "personal commitments registered (study and follow Uncle Ho)", "commitments"),
)

_CAMPAIGNS = (
    Campaign("ngay-cuoi-tuan-cung-dan", "Ngày cuối tuần cùng dân", "Weekend with the people"),
    Campaign("dan-van-kheo", "Dân vận khéo", "Skilful mass mobilisation"),
    Campaign("hoc-tap-lam-theo-bac",
             "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
             "Study and follow Ho Chi Minh's thought, ethics and style"),
    Campaign("xay-dung-nong-thon-moi", "Xây dựng nông thôn mới", "New rural development"),
    Campaign("xuan-tinh-nguyen", "Xuân tình nguyện", "Volunteer spring"),
)

INDICATORS: MappingProxyType[str, Indicator] = MappingProxyType(
    {i.code: i for i in _INDICATORS})
V1_INDICATORS: tuple[str, ...] = tuple(i.code for i in _INDICATORS[:25])
"""The indicator codes of contracts 1.0, which version 1 of the report and event keeps for
good: ``ActivityLogged`` v1 is held to FULL compatibility, so its catalog cannot grow.
Later indicators need a version 2 report."""
CAMPAIGNS: MappingProxyType[str, Campaign] = MappingProxyType({c.code: c for c in _CAMPAIGNS})
