//! Demo data of issue 18: the service catalogue (the seed's figures), recognition rules between
//! Beijing (110000), Fengtai (110106) and Xiong'an (133100), credentials for a share of the demo
//! talents — some expired, one revoked — and engagements of Beijing talents by a Hebei
//! enterprise in every mode.

use anyhow::Context;
use time::{Duration, OffsetDateTime};
use xietong_domain::{Kind, Status};
use xietong_store::ListFilter;

use crate::credential::RecognitionInput;
use crate::engagement::{EngagementAction, EngagementInput};
use crate::{Actor, App};

/// Evaluation levels of the demo, with the field they are given in.
const LEVELS: [(&str, &str); 4] =
    [("高级工程师", "电子信息"), ("正高级工程师", "智能制造"), ("高级工程师", "生物医药"), ("工程师", "新材料")];

/// (verifying region, issuing region, level, recognised as).
const RULES: [(&str, &str, &str, &str); 8] = [
    ("110000", "133100", "高级工程师", "高级工程师"),
    ("110000", "133100", "正高级工程师", "正高级工程师"),
    ("110000", "133100", "工程师", "工程师"),
    ("133100", "110000", "高级工程师", "高级工程师"),
    ("133100", "110000", "正高级工程师", "正高级工程师"),
    ("133100", "110106", "高级工程师", "高级工程师"),
    ("133100", "110106", "正高级工程师", "正高级工程师"),
    ("133100", "110106", "工程师", "工程师"),
];

/// Creates the demo's talent-mobility data; `hebei_org` engages Beijing talents, `talent_org`
/// is the demo talent's own organisation.
pub(crate) fn create(app: &App, hebei_org: &str, talent_org: &str) -> anyhow::Result<()> {
    let operator = Actor::operator();
    app.ensure_demo_services().context("failed to load the demo service catalogue")?;
    for (verifier, issuer, level, recognised) in RULES {
        let input = RecognitionInput {
            verifier_region: verifier.into(),
            issuer_region: issuer.into(),
            issuer_level: level.into(),
            recognised_level: recognised.into(),
        };
        app.add_recognition_rule(&operator, input).context("failed to add a demo recognition rule")?;
    }
    let filter = ListFilter { kind: Some(Kind::Talent), status: Some(Status::Published), ..ListFilter::default() };
    let talents = app.store.list(&filter, 60, 0)?.items;
    let own = app.store.list(&ListFilter { owner_org: Some(talent_org.into()), ..filter.clone() }, 5, 0)?.items;
    let now = OffsetDateTime::now_utc();
    let mut issued = Vec::new();
    for (n, talent) in own.iter().chain(talents.iter().step_by(2)).enumerate() {
        let region = ["133100", "110106", "110000"][n % 3];
        let (level, field) = LEVELS[n % LEVELS.len()];
        // Every fifth is long expired; the others run for two more years.
        let (from, until) = if n % 5 == 4 {
            (now - Duration::days(3 * 365), now - Duration::days(30))
        } else {
            (now - Duration::days(30 + n as i64), now + Duration::days(730))
        };
        let key = app.demo_issuing_key(region)?;
        let stored = app
            .store_credential(&operator, &key, region, talent.id, &talent.body.title, level, field, from, until)
            .context("failed to issue a demo credential")?;
        issued.push(stored);
    }
    if let Some(revoked) = issued.iter().filter(|c| c.valid_until > crate::credential::now_ms()).nth(3) {
        app.revoke_credential(&operator, &revoked.id, "评价结果复核未通过（演示）")?;
    }
    let beijing: Vec<_> = talents
        .iter()
        .filter(|t| t.body.region_codes.first().is_some_and(|code| code.starts_with("11")))
        .take(8)
        .collect();
    let modes: [(&str, Vec<u8>, Option<u8>); 4] = [
        ("weekend_engineer", vec![6, 7], None),
        ("dual_appointment", vec![], Some(40)),
        ("remote_consulting", vec![], None),
        ("full_time", vec![], None),
    ];
    let year = now.year();
    for (n, talent) in beijing.iter().enumerate() {
        let (mode, weekdays, share) = &modes[n % modes.len()];
        let input = EngagementInput {
            talent: talent.id.to_string(),
            organisation: Some(hebei_org.into()),
            mode: mode.to_string(),
            start: format!("{year}-01-01"),
            end: format!("{}-12-31", year + 1),
            weekdays: weekdays.clone(),
            share_percent: *share,
        };
        let engagement = app.propose_engagement(&operator, input).context("failed to propose a demo engagement")?;
        // Most are accepted; the last stays proposed, for the talent to answer.
        if n + 1 < beijing.len() {
            app.move_engagement(&operator, engagement.id, Some(engagement.version), EngagementAction::Accept)?;
        }
    }
    Ok(())
}
