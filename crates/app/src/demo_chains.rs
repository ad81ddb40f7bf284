//! The planner's view in the demo (issue 19): a few curated listings so that every province has
//! a deliberately missing (建链) and a weak (补链) segment, with a strong province elsewhere to
//! attract from, and two recorded enclaves. Three segments the generated catalogue leaves empty
//! form a Latin square under the default gap rules (strong: supply ≥ 5 and ≥ demand):
//!
//! | segment | 北京 | 天津 | 河北 |
//! |---|---|---|---|
//! | safety-materials 应急专用材料 (2929) | missing | weak (2 / 3) | strong (6 / 1) |
//! | ai-devices 智能终端 (3961) | strong (6 / 0) | missing | weak (1 / 2) |
//! | med-cold-chain 医药冷链物流 (5930) | weak (1 / 2) | strong (6 / 1) | missing |

use anyhow::Context;
use xietong_domain::enclave::{EnclaveBody, EnclaveKind};
use xietong_domain::{ListingBody, Reference, validate};
use xietong_store::{NewAudit, WriteOp};

use crate::App;

/// Meta key recording that the curated chain listings were stored.
const META_KEY: &str = "demo_chains";

const BEIJING: &str = "110108";
const TIANJIN: &str = "120116";
const HEBEI: &str = "130602";

/// (segment code, phrase, region, supply, demand, what is made).
const PLAN: [(&str, &str, &str, usize, usize, &str); 8] = [
    ("2929", "阻燃材料", TIANJIN, 2, 3, "应急阻燃材料"),
    ("2929", "阻燃材料", HEBEI, 6, 1, "应急阻燃材料"),
    ("3961", "可穿戴设备", BEIJING, 6, 0, "智能可穿戴设备"),
    ("3961", "可穿戴设备", HEBEI, 1, 2, "智能可穿戴设备"),
    ("5930", "医药冷链", BEIJING, 1, 2, "医药冷链仓储"),
    ("5930", "医药冷链", TIANJIN, 6, 1, "医药冷链仓储"),
    ("5930", "医药冷链", HEBEI, 0, 0, ""),
    ("2929", "阻燃材料", BEIJING, 0, 0, ""),
];

/// Number of curated listings.
pub const COUNT: usize = 2 + 3 + 6 + 1 + 6 + 1 + 2 + 1 + 2 + 6 + 1;

fn region_short(code: &str) -> &'static str {
    match code {
        BEIJING => "北京海淀",
        TIANJIN => "天津滨海",
        _ => "河北保定",
    }
}

/// The curated listings, in a fixed order.
pub fn listings() -> Vec<ListingBody> {
    let mut bodies = Vec::new();
    for (code, phrase, region, supply, demand, made) in PLAN {
        let place = region_short(region);
        for index in 0..supply {
            let value = if index % 3 == 2 {
                serde_json::json!({"kind": "achievement", "title": format!("{place}{made}成果{}", index + 1),
                    "summary": format!("面向{phrase}的工艺成果，可转让或合作开发。"), "region_codes": [region],
                    "industry_codes": [code], "keywords": [phrase], "owner_org": format!("{place}{made}研究院"), "trl": 6})
            } else {
                serde_json::json!({"kind": "enterprise", "title": format!("{place}{made}企业{}", index + 1),
                    "summary": format!("专业从事{phrase}的研发与生产。"), "region_codes": [region],
                    "industry_codes": [code], "keywords": [phrase], "owner_org": format!("{place}{made}企业{}", index + 1)})
            };
            bodies.push(serde_json::from_value(value).expect("curated listing JSON"));
        }
        for index in 0..demand {
            let value = serde_json::json!({"kind": "demand", "title": format!("{place}{made}需求{}", index + 1),
                "summary": format!("寻求{phrase}方面的技术与产能合作。"), "region_codes": [region],
                "industry_codes": [code], "keywords": [phrase], "owner_org": format!("{place}{made}用户单位{}", index + 1)});
            bodies.push(serde_json::from_value(value).expect("curated listing JSON"));
        }
    }
    bodies
}

/// Stores the curated listings and two enclaves once.
pub fn ensure(app: &App) -> anyhow::Result<()> {
    if app.store.meta_get(META_KEY)?.is_some() {
        return Ok(());
    }
    let reference = Reference::get();
    let mut ops = Vec::new();
    for body in listings() {
        let body = validate(body, reference).map_err(|e| anyhow::anyhow!("curated chain listing is invalid: {e}"))?;
        ops.push(WriteOp::Create(body));
    }
    let stored = app.store.write_batch(ops).context("failed to store the curated chain listings")?;
    let firms = |prefix: &str| {
        stored
            .iter()
            .filter(|l| l.kind() == xietong_domain::Kind::Enterprise && l.body.title.starts_with(prefix))
            .map(|l| l.id)
            .collect::<Vec<_>>()
    };
    let enclaves = [
        EnclaveBody {
            kind: EnclaveKind::Manufacturing,
            name: "中关村—保定智能终端制造飞地".into(),
            home_region: BEIJING.into(),
            host_region: HEBEI.into(),
            host_park: "保定·中关村创新中心".into(),
            enterprises: firms("北京海淀智能可穿戴设备"),
        },
        EnclaveBody {
            kind: EnclaveKind::Science,
            name: "滨海—海淀医药冷链科创飞地".into(),
            home_region: TIANJIN.into(),
            host_region: BEIJING.into(),
            host_park: "海淀区科创飞地园区".into(),
            enterprises: firms("天津滨海医药冷链仓储"),
        },
    ];
    for body in enclaves {
        app.chains.create_enclave(&body, None, &|enclave| NewAudit {
            actor: "demo".into(),
            action: "enclave.create".into(),
            target: format!("enclave:{}", enclave.id),
            region_code: Some(enclave.body.host_region.clone()),
            ..NewAudit::default()
        })?;
    }
    app.store.meta_set(META_KEY, "1")?;
    app.sync_index()?;
    Ok(())
}
