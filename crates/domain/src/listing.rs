//! Listings: the common core shared by every kind, plus the kind-specific details.
//!
//! The JSON shape is flat: `{"kind": "achievement", "title": ..., "trl": 6, ...}`. Amounts of money
//! are in 万元 (10,000 CNY). Dates are `YYYY-MM-DD`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Stable id of a listing (UUID v7, so ids sort by creation time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ListingId(pub Uuid);

impl ListingId {
    pub fn new() -> Self {
        ListingId(Uuid::now_v7())
    }
}

impl Default for ListingId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ListingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ListingId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(ListingId)
    }
}

/// The seven libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Talent,
    Achievement,
    Scenario,
    Facility,
    Enterprise,
    Demand,
    Challenge,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Talent,
        Kind::Achievement,
        Kind::Scenario,
        Kind::Facility,
        Kind::Enterprise,
        Kind::Demand,
        Kind::Challenge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Talent => "talent",
            Kind::Achievement => "achievement",
            Kind::Scenario => "scenario",
            Kind::Facility => "facility",
            Kind::Enterprise => "enterprise",
            Kind::Demand => "demand",
            Kind::Challenge => "challenge",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::Talent => "人才",
            Kind::Achievement => "成果",
            Kind::Scenario => "场景",
            Kind::Facility => "科研设施",
            Kind::Enterprise => "企业",
            Kind::Demand => "需求",
            Kind::Challenge => "榜单",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Kind::Talent => "Talent",
            Kind::Achievement => "Achievement",
            Kind::Scenario => "Scenario",
            Kind::Facility => "Facility",
            Kind::Enterprise => "Enterprise",
            Kind::Demand => "Demand",
            Kind::Challenge => "Challenge",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(wanted) || k.label_zh() == wanted)
            .ok_or_else(|| {
                format!("unknown kind {wanted:?}; expected one of talent, achievement, scenario, facility, enterprise, demand, challenge")
            })
    }
}

/// Publication state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    /// Waiting for a region operator's review before publication.
    Pending,
    /// Turned down by a region operator; the reason is in the review record.
    Rejected,
    #[default]
    Published,
    Archived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Pending => "pending",
            Status::Rejected => "rejected",
            Status::Published => "published",
            Status::Archived => "archived",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Draft => "草稿",
            Status::Pending => "待审核",
            Status::Rejected => "未通过审核",
            Status::Published => "已发布",
            Status::Archived => "已归档",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Status::Draft => "Draft",
            Status::Pending => "Awaiting review",
            Status::Rejected => "Rejected",
            Status::Published => "Published",
            Status::Archived => "Archived",
        }
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "draft" => Ok(Status::Draft),
            "pending" => Ok(Status::Pending),
            "rejected" => Ok(Status::Rejected),
            "published" => Ok(Status::Published),
            "archived" => Ok(Status::Archived),
            other => Err(format!("unknown status {other:?}; expected draft, pending, rejected, published or archived")),
        }
    }
}

/// Who may see a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Public,
    Registered,
    Region,
    Organisation,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Registered => "registered",
            Visibility::Region => "region",
            Visibility::Organisation => "organisation",
        }
    }

    pub const ALL: [Visibility; 4] =
        [Visibility::Public, Visibility::Registered, Visibility::Region, Visibility::Organisation];

    pub fn label_zh(self) -> &'static str {
        match self {
            Visibility::Public => "公开",
            Visibility::Registered => "注册用户可见",
            Visibility::Region => "同地区可见",
            Visibility::Organisation => "仅本机构可见",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Visibility::Public => "Public",
            Visibility::Registered => "Registered users",
            Visibility::Region => "Same region",
            Visibility::Organisation => "Own organisation",
        }
    }
}

impl FromStr for Visibility {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Visibility::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| format!("unknown visibility {s:?}; expected public, registered, region or organisation"))
    }
}

/// Contact details; masked unless the viewer is entitled to them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A calendar day, `YYYY-MM-DD` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub time::Date);

const DAY_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl Day {
    pub fn parse(text: &str) -> Result<Self, String> {
        time::Date::parse(text.trim(), DAY_FORMAT)
            .map(Day)
            .map_err(|_| format!("{text:?} is not a date in the form YYYY-MM-DD"))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(DAY_FORMAT).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Day::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How a talent can work with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    FullTime,
    /// 双聘
    DualAppointment,
    /// 周末工程师
    WeekendEngineer,
    RemoteConsulting,
}

impl Availability {
    pub const ALL: [Availability; 4] = [
        Availability::FullTime,
        Availability::DualAppointment,
        Availability::WeekendEngineer,
        Availability::RemoteConsulting,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::FullTime => "full_time",
            Availability::DualAppointment => "dual_appointment",
            Availability::WeekendEngineer => "weekend_engineer",
            Availability::RemoteConsulting => "remote_consulting",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Availability::FullTime => "全职",
            Availability::DualAppointment => "双聘",
            Availability::WeekendEngineer => "周末工程师",
            Availability::RemoteConsulting => "远程咨询",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            Availability::FullTime => "Full time",
            Availability::DualAppointment => "Dual appointment",
            Availability::WeekendEngineer => "Weekend engineer",
            Availability::RemoteConsulting => "Remote consulting",
        }
    }
}

/// Kind of intellectual property behind an achievement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpType {
    InventionPatent,
    UtilityModel,
    SoftwareCopyright,
    IntegratedCircuitLayout,
    TradeSecret,
    Other,
}

/// How an achievement can be transferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    Licence,
    Assignment,
    JointDevelopment,
    Equity,
}

/// Type of research facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityType {
    #[default]
    Instrument,
    Lab,
    PilotLine,
    /// 中试基地
    PilotBase,
}

impl FacilityType {
    pub const ALL: [FacilityType; 4] =
        [FacilityType::Instrument, FacilityType::Lab, FacilityType::PilotLine, FacilityType::PilotBase];
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityType::Instrument => "instrument",
            FacilityType::Lab => "lab",
            FacilityType::PilotLine => "pilot_line",
            FacilityType::PilotBase => "pilot_base",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            FacilityType::Instrument => "仪器设备",
            FacilityType::Lab => "实验室",
            FacilityType::PilotLine => "中试线",
            FacilityType::PilotBase => "中试基地",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            FacilityType::Instrument => "Instrument",
            FacilityType::Lab => "Laboratory",
            FacilityType::PilotLine => "Pilot line",
            FacilityType::PilotBase => "Pilot base",
        }
    }
}

/// Role of an enterprise site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteRole {
    Hq,
    RAndD,
    Manufacturing,
    Scenario,
}

impl SiteRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SiteRole::Hq => "hq",
            SiteRole::RAndD => "r_and_d",
            SiteRole::Manufacturing => "manufacturing",
            SiteRole::Scenario => "scenario",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            SiteRole::Hq => "总部",
            SiteRole::RAndD => "研发",
            SiteRole::Manufacturing => "制造",
            SiteRole::Scenario => "应用场景",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            SiteRole::Hq => "Head office",
            SiteRole::RAndD => "R&D",
            SiteRole::Manufacturing => "Manufacturing",
            SiteRole::Scenario => "Application site",
        }
    }
}

/// One site of an enterprise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub region_code: String,
    pub role: SiteRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// One evaluation criterion of a challenge, weight in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    pub name: String,
    pub weight: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TalentDetails {
    pub expertise: Vec<String>,
    /// Title or rank, e.g. 研究员, 高级工程师.
    pub rank: Option<String>,
    pub employer: Option<String>,
    pub availability: Vec<Availability>,
    /// Regions the talent is willing to work in.
    pub willing_regions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AchievementDetails {
    /// Technology readiness level 1–9; required.
    pub trl: Option<u8>,
    pub ip_type: Option<IpType>,
    pub patent_numbers: Vec<String>,
    pub transfer_modes: Vec<TransferMode>,
    /// Asking price range in 万元.
    pub price_min: Option<f64>,
    pub price_max: Option<f64>,
    pub institution: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScenarioDetails {
    pub offering_org: Option<String>,
    pub site: Option<String>,
    pub wanted_technology: Vec<String>,
    pub window_start: Option<Day>,
    pub window_end: Option<Day>,
    /// 万元
    pub budget: Option<f64>,
    /// Regions where the scenario wants its partners (GB/T 2260).
    pub preferred_regions: Vec<String>,
    /// `preferred_regions` are a requirement: matching returns nothing outside them.
    pub regions_required: bool,
    /// Working patterns accepted from talents; empty means any.
    pub talent_modes: Vec<Availability>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FacilityDetails {
    pub facility_type: FacilityType,
    pub capabilities: Vec<String>,
    /// Unit in which capacity is booked, e.g. 机时, 批次, 天.
    pub capacity_unit: Option<String>,
    /// Price per capacity unit, in yuan.
    pub price: Option<f64>,
    pub booking_rules: Option<String>,
    pub site: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnterpriseDetails {
    /// 统一社会信用代码, checked with its GB 32100 check digit.
    pub uscc: Option<String>,
    pub sites: Vec<Site>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DemandDetails {
    pub problem: Option<String>,
    pub desired_trl: Option<u8>,
    /// 万元
    pub budget: Option<f64>,
    pub deadline: Option<Day>,
    pub preferred_regions: Vec<String>,
    /// `preferred_regions` are a requirement: matching returns nothing outside them.
    pub regions_required: bool,
    /// Working patterns accepted from talents; empty means any.
    pub talent_modes: Vec<Availability>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChallengeDetails {
    pub requirements: Option<String>,
    /// Prize or budget in 万元.
    pub prize: Option<f64>,
    pub deadline: Option<Day>,
    pub criteria: Vec<Criterion>,
    /// How many teams may race in parallel (赛马制).
    pub max_teams: Option<u32>,
    /// Regions where the challenge wants its solvers (GB/T 2260).
    pub preferred_regions: Vec<String>,
    /// `preferred_regions` are a requirement: matching returns nothing outside them.
    pub regions_required: bool,
    /// Working patterns accepted from talents; empty means any.
    pub talent_modes: Vec<Availability>,
}

/// Kind-specific fields; the `kind` tag sits beside the core fields in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Details {
    Talent(TalentDetails),
    Achievement(AchievementDetails),
    Scenario(ScenarioDetails),
    Facility(FacilityDetails),
    Enterprise(EnterpriseDetails),
    Demand(DemandDetails),
    Challenge(ChallengeDetails),
}

impl Details {
    pub fn kind(&self) -> Kind {
        match self {
            Details::Talent(_) => Kind::Talent,
            Details::Achievement(_) => Kind::Achievement,
            Details::Scenario(_) => Kind::Scenario,
            Details::Facility(_) => Kind::Facility,
            Details::Enterprise(_) => Kind::Enterprise,
            Details::Demand(_) => Kind::Demand,
            Details::Challenge(_) => Kind::Challenge,
        }
    }
}

/// The partner terms of a need (issue 13 item 3), borrowed from its details.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartnerTerms<'a> {
    /// Regions where partners are wanted (GB/T 2260).
    pub preferred_regions: &'a [String],
    /// Nothing outside `preferred_regions` is a match.
    pub regions_required: bool,
    /// Working patterns accepted from talents; empty means any.
    pub talent_modes: &'a [Availability],
}

/// Everything a client writes: the core fields plus the kind's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListingBody {
    /// Required; a missing title is reported by validation, naming the field.
    #[serde(default)]
    pub title: String,
    /// Required; a missing summary is reported by validation, naming the field.
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// GB/T 4754-2017 codes (section letter, 2-digit division, 3-digit group or 4-digit class).
    #[serde(default)]
    pub industry_codes: Vec<String>,
    /// Discipline tags (学科), e.g. 机械工程; a structured signal for matching like industry codes.
    #[serde(default)]
    pub disciplines: Vec<String>,
    /// GB/T 2260 codes of Beijing, Tianjin, Hebei or Xiong'an.
    #[serde(default)]
    pub region_codes: Vec<String>,
    /// Owning organisation (name or id).
    #[serde(default)]
    pub owner_org: Option<String>,
    #[serde(default)]
    pub contact: Option<Contact>,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub status: Status,
    /// Optional id from the source system, unique per kind and owner (used by imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(flatten)]
    pub details: Details,
}

impl ListingBody {
    pub fn kind(&self) -> Kind {
        self.details.kind()
    }

    /// TRL of an achievement, or the desired TRL of a demand.
    pub fn trl(&self) -> Option<u8> {
        match &self.details {
            Details::Achievement(a) => a.trl,
            Details::Demand(d) => d.desired_trl,
            _ => None,
        }
    }

    /// What a need (demand, scenario, challenge) asks of its partners' location and working
    /// patterns; empty for the other kinds.
    pub fn partner_terms(&self) -> PartnerTerms<'_> {
        match &self.details {
            Details::Demand(d) => PartnerTerms {
                preferred_regions: &d.preferred_regions,
                regions_required: d.regions_required,
                talent_modes: &d.talent_modes,
            },
            Details::Scenario(s) => PartnerTerms {
                preferred_regions: &s.preferred_regions,
                regions_required: s.regions_required,
                talent_modes: &s.talent_modes,
            },
            Details::Challenge(c) => PartnerTerms {
                preferred_regions: &c.preferred_regions,
                regions_required: c.regions_required,
                talent_modes: &c.talent_modes,
            },
            _ => PartnerTerms { preferred_regions: &[], regions_required: false, talent_modes: &[] },
        }
    }

    /// All free text of the listing, kind-specific fields included, for indexing.
    pub fn searchable_text(&self) -> String {
        let mut parts: Vec<&str> = vec![&self.summary, &self.description];
        match &self.details {
            Details::Talent(t) => {
                parts.extend(t.expertise.iter().map(String::as_str));
                parts.extend(t.rank.as_deref());
                parts.extend(t.employer.as_deref());
            }
            Details::Achievement(a) => parts.extend(a.institution.as_deref()),
            Details::Scenario(s) => {
                parts.extend(s.offering_org.as_deref());
                parts.extend(s.wanted_technology.iter().map(String::as_str));
            }
            Details::Facility(f) => {
                parts.extend(f.capabilities.iter().map(String::as_str));
                parts.extend(f.booking_rules.as_deref());
            }
            Details::Enterprise(_) => {}
            Details::Demand(d) => parts.extend(d.problem.as_deref()),
            Details::Challenge(c) => {
                parts.extend(c.requirements.as_deref());
                parts.extend(c.criteria.iter().map(|c| c.name.as_str()));
            }
        }
        parts.retain(|p| !p.trim().is_empty());
        parts.join("\n")
    }
}

/// A stored listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub id: ListingId,
    /// Incremented on every update; an update must carry the version it read.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(flatten)]
    pub body: ListingBody,
}

impl Listing {
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_achievement_deserializes_with_defaults() {
        let body: ListingBody = serde_json::from_str(
            r#"{"kind":"achievement","title":"t","summary":"s","region_codes":["110106"],"trl":6}"#,
        )
        .unwrap();
        assert_eq!(body.kind(), Kind::Achievement);
        assert_eq!(body.trl(), Some(6));
        assert_eq!(body.status, Status::Published);
        assert_eq!(body.visibility, Visibility::Public);
    }

    #[test]
    fn listing_round_trips_flat_json() {
        let body: ListingBody = serde_json::from_str(
            r#"{"kind":"enterprise","title":"t","summary":"s","region_codes":["110106"],
                "sites":[{"region_code":"120116","role":"manufacturing"}]}"#,
        )
        .unwrap();
        let listing = Listing {
            id: ListingId::new(),
            version: 1,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            body,
        };
        let json = serde_json::to_value(&listing).unwrap();
        assert_eq!(json["kind"], "enterprise");
        assert_eq!(json["sites"][0]["role"], "manufacturing");
        let back: Listing = serde_json::from_value(json).unwrap();
        assert_eq!(back, listing);
    }
}
