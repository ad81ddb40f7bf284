//! Documentation-only schemas for the OpenAPI document. The wire types are the domain's listing
//! types (flat JSON with a `kind` tag); these structs describe them for clients.

use serde::Serialize;
use utoipa::ToSchema;

/// A listing as stored: the core fields, `kind`, and the kind's own fields beside them.
/// Money is in 万元 (10,000 CNY), dates are `YYYY-MM-DD`.
#[derive(Serialize, ToSchema)]
pub struct ListingDoc {
    /// Stable id (UUID v7).
    pub id: String,
    /// Current version; send it back with `PUT`.
    pub version: i64,
    /// In answers only: not updated for `stale_after_days` (config, default 180); ranks lower
    /// in matching.
    pub stale: Option<bool>,
    /// talent, achievement, scenario, facility, enterprise, demand or challenge.
    pub kind: String,
    pub title: String,
    pub summary: String,
    pub description: Option<String>,
    pub keywords: Vec<String>,
    /// GB/T 4754-2017 codes.
    pub industry_codes: Vec<String>,
    /// Discipline tags (学科).
    pub disciplines: Vec<String>,
    /// GB/T 2260 codes.
    pub region_codes: Vec<String>,
    pub owner_org: Option<String>,
    /// `{name, phone, email}`.
    #[schema(value_type = Object)]
    pub contact: Option<serde_json::Value>,
    /// public, registered, region or organisation.
    pub visibility: String,
    /// draft, published (default) or archived.
    pub status: String,
    pub external_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
    /// Achievement: technology readiness level 1–9 (required for achievements).
    pub trl: Option<u8>,
    /// Achievement: invention_patent, utility_model, software_copyright, …
    pub ip_type: Option<String>,
    pub patent_numbers: Option<Vec<String>>,
    /// Achievement: licence, assignment, joint_development, equity.
    pub transfer_modes: Option<Vec<String>>,
    pub price_min: Option<f64>,
    pub price_max: Option<f64>,
    pub institution: Option<String>,
    /// Talent.
    pub expertise: Option<Vec<String>>,
    pub rank: Option<String>,
    pub employer: Option<String>,
    /// Talent: full_time, dual_appointment (双聘), weekend_engineer (周末工程师), remote_consulting.
    pub availability: Option<Vec<String>>,
    pub willing_regions: Option<Vec<String>>,
    /// Scenario.
    pub offering_org: Option<String>,
    pub site: Option<String>,
    pub wanted_technology: Option<Vec<String>>,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// Scenario or demand budget, 万元.
    pub budget: Option<f64>,
    /// Facility: instrument, lab, pilot_line, pilot_base.
    pub facility_type: Option<String>,
    pub capabilities: Option<Vec<String>>,
    pub capacity_unit: Option<String>,
    pub price: Option<f64>,
    pub booking_rules: Option<String>,
    /// Enterprise: unified social credit code with a valid GB 32100 check digit.
    pub uscc: Option<String>,
    /// Enterprise: `[{region_code, role: hq|r_and_d|manufacturing|scenario, address}]`.
    #[schema(value_type = Vec<Object>)]
    pub sites: Option<Vec<serde_json::Value>>,
    /// Demand.
    pub problem: Option<String>,
    pub desired_trl: Option<u8>,
    pub deadline: Option<String>,
    /// Demand, scenario or challenge: regions where partners are wanted (GB/T 2260); matches
    /// elsewhere carry a mismatch and rank lower.
    pub preferred_regions: Option<Vec<String>>,
    /// Demand, scenario or challenge: `true` makes `preferred_regions` a requirement, so matching
    /// returns nothing outside them (needs at least one preferred region).
    pub regions_required: Option<bool>,
    /// Demand, scenario or challenge: working patterns accepted from talents, any of full_time,
    /// dual_appointment, weekend_engineer, remote_consulting; empty means any. A talent offering
    /// none of them ranks after those who do and carries a mismatch.
    pub talent_modes: Option<Vec<String>>,
    /// Challenge.
    pub requirements: Option<String>,
    pub prize: Option<f64>,
    /// Challenge: `[{name, weight}]`, weights add up to 100.
    #[schema(value_type = Vec<Object>)]
    pub criteria: Option<Vec<serde_json::Value>>,
    pub max_teams: Option<u32>,
}
