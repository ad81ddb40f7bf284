//! Enclaves (飞地): a park in a host region run for enterprises of a home region.

use serde::{Deserialize, Serialize};

use crate::{ListingId, Reference, ValidationErrors};

/// What an enclave is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnclaveKind {
    /// 科创飞地: research of a Tianjin/Hebei enterprise hosted in Beijing.
    Science,
    /// 制造飞地: manufacturing of a Beijing enterprise hosted in Tianjin/Hebei.
    Manufacturing,
    /// 场景应用飞地: application sites hosted in Tianjin/Hebei.
    Scenario,
}

impl EnclaveKind {
    pub const ALL: [EnclaveKind; 3] = [EnclaveKind::Science, EnclaveKind::Manufacturing, EnclaveKind::Scenario];

    pub fn as_str(self) -> &'static str {
        match self {
            EnclaveKind::Science => "science",
            EnclaveKind::Manufacturing => "manufacturing",
            EnclaveKind::Scenario => "scenario",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            EnclaveKind::Science => "科创飞地",
            EnclaveKind::Manufacturing => "制造飞地",
            EnclaveKind::Scenario => "场景应用飞地",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            EnclaveKind::Science => "Science enclave",
            EnclaveKind::Manufacturing => "Manufacturing enclave",
            EnclaveKind::Scenario => "Scenario enclave",
        }
    }
}

impl std::str::FromStr for EnclaveKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnclaveKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| format!("unknown enclave kind {s:?}; expected science, manufacturing or scenario"))
    }
}

/// An enclave as recorded (by a region operator or the admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnclaveBody {
    pub kind: EnclaveKind,
    pub name: String,
    /// GB/T 2260 code of the region the enterprises come from.
    pub home_region: String,
    /// GB/T 2260 code of the region hosting the park.
    pub host_region: String,
    /// The park in the host region, e.g. 天津滨海—中关村科技园.
    pub host_park: String,
    /// Enterprise listings in the enclave.
    #[serde(default)]
    pub enterprises: Vec<ListingId>,
}

/// Checks an enclave: a name and park, known regions in different provinces.
pub fn validate_enclave(body: &EnclaveBody) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if body.name.trim().is_empty() || body.name.chars().count() > 200 {
        errors.push("name", "请填写飞地名称（最多200字）", "name is required (at most 200 characters)");
    }
    if body.host_park.trim().is_empty() || body.host_park.chars().count() > 200 {
        errors.push("host_park", "请填写承接园区（最多200字）", "host_park is required (at most 200 characters)");
    }
    let reference = Reference::get();
    let home = reference.province_of(&body.home_region).map(|r| r.code.clone());
    let host = reference.province_of(&body.host_region).map(|r| r.code.clone());
    if home.is_none() {
        errors.push("home_region", "未知的派出地区代码", "unknown home_region code");
    }
    if host.is_none() {
        errors.push("host_region", "未知的承接地区代码", "unknown host_region code");
    }
    if home.is_some() && home == host {
        errors.push("host_region", "飞地的派出地与承接地应在不同省市", "home and host must be in different provinces");
    }
    if body.enterprises.len() > 1_000 {
        errors.push("enterprises", "一个飞地最多登记1000家企业", "at most 1,000 enterprises per enclave");
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}
