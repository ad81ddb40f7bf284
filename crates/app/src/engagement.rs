//! Flexible engagements (双聘, 周末工程师, remote consulting, full time; issue 18). A member of
//! the engaging organisation (or a region operator of its region, or the admin) proposes; the
//! talent's side — whoever may edit the talent listing — accepts or declines; either side ends
//! an accepted one. The commitment rule (`xietong_domain::engagement::fits`) is applied by the
//! store inside the write's transaction, so a proposal or acceptance that would overcommit the
//! talent is a 409, and of two concurrent ones for the same days one wins.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;
use xietong_domain::engagement::{Commitment, Mode, State, check_terms};
use xietong_domain::{Kind, ListingId, Reference, Role};
use xietong_store::{Engagement, NewEngagement, StoreError};

use crate::{Actor, App, AppError, AppResult};

/// An engagement to propose.
#[derive(Debug, Clone, Deserialize)]
pub struct EngagementInput {
    /// The talent listing's id.
    pub talent: String,
    /// The engaging organisation (name or id); the proposer's own when omitted.
    #[serde(default)]
    pub organisation: Option<String>,
    /// `dual_appointment`, `weekend_engineer`, `remote_consulting` or `full_time`.
    pub mode: String,
    /// First day, `YYYY-MM-DD`.
    pub start: String,
    /// Last day, `YYYY-MM-DD`.
    pub end: String,
    /// ISO weekdays (1 Monday … 7 Sunday), for weekend engineers.
    #[serde(default)]
    pub weekdays: Vec<u8>,
    /// Percent of the talent's time, for dual appointments.
    #[serde(default)]
    pub share_percent: Option<u8>,
}

/// A move of an engagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngagementAction {
    Accept,
    Decline,
    End,
}

/// How many Beijing talents serve Tianjin and Hebei organisations (accepted engagements).
#[derive(Debug, Clone, Default, Serialize)]
pub struct EngagementStats {
    /// Distinct Beijing talents with an accepted engagement by a Tianjin or Hebei organisation.
    pub beijing_talents_serving_tianjin_hebei: usize,
    /// Accepted engagements of that kind by mode.
    pub by_mode: BTreeMap<String, usize>,
    /// … by the talent's sector (GB/T 4754 section).
    pub by_sector: BTreeMap<String, usize>,
    /// … by the organisation's province (120000, 130000).
    pub by_province: BTreeMap<String, usize>,
}

/// The notice of an engagement event to organisation `to`.
fn notice(
    engagement: &Engagement,
    event: &str,
    to: &str,
    actor: &xietong_domain::Principal,
    email: bool,
) -> xietong_store::Notice {
    let mode = engagement.mode.label_zh();
    let state = engagement.state.as_str();
    xietong_store::Notice {
        event: event.into(),
        title_zh: format!("{}：{mode}（{state}）", engagement.organisation),
        title_en: format!("{}: {} ({state})", engagement.organisation, engagement.mode.as_str()),
        body_zh: format!("{} 至 {}，{mode}，状态：{state}", engagement.start, engagement.end),
        body_en: format!("{} to {}, {}, state: {state}", engagement.start, engagement.end, engagement.mode.as_str()),
        link: format!("/listings/{}", engagement.talent_id),
        deal_id: None,
        listing_id: Some(engagement.talent_id),
        to_orgs: vec![to.to_string()],
        to_users: Vec::new(),
        except: Some(actor.user_id),
        data: serde_json::to_value(engagement).unwrap_or_default(),
        email,
    }
}

fn date(field: &str, text: &str) -> AppResult<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), format).map_err(|_| AppError::bad_input(field, "a date YYYY-MM-DD"))
}

/// The GB/T 4754 section (门类 letter) an industry code belongs to.
pub(crate) fn section_of(code: &str) -> String {
    let reference = Reference::get();
    let mut current = code.to_string();
    for _ in 0..5 {
        match reference.industry(&current).and_then(|industry| industry.parent_code.clone()) {
            Some(parent) => current = parent,
            None => break,
        }
    }
    current
}

fn province(code: &str) -> String {
    Reference::get().province_of(code).map_or_else(|| code.to_string(), |r| r.code.clone())
}

impl App {
    /// The engagement a signed deal of type dual appointment or employment starts, when one of
    /// its listings is a talent: that talent engaged by the other side's organisation, from the
    /// signing day to `until` (a year by default), for `share_percent` of their time (50% by
    /// default) or full time for employment. Accepted when the talent's side signs, proposed (for
    /// the talent to accept) when the engaging side does. `None` for any other deal.
    pub(crate) fn engagement_of_signing(
        &self,
        deal: &xietong_store::Deal,
        event: &xietong_domain::deal::DealEvent,
        signer: xietong_domain::deal::Side,
        signer_name: &str,
    ) -> AppResult<Option<(NewEngagement, State)>> {
        use xietong_domain::deal::{AgreementType, DealEvent, Side};
        let DealEvent::Sign { agreement_type, signed_on, share_percent, until, .. } = event else {
            return Ok(None);
        };
        let mode = match agreement_type {
            AgreementType::DualAppointment => Mode::DualAppointment,
            AgreementType::Employment => Mode::FullTime,
            _ => return Ok(None),
        };
        let listing = |id: ListingId| match self.store.get(id) {
            Ok(listing) => Ok(Some(listing).filter(|l| l.kind() == Kind::Talent)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(err) => Err(AppError::from(err)),
        };
        let (talent, talent_side, engaging_org) = if let Some(talent) = listing(deal.listing_id)? {
            (talent, Side::Owner, &deal.asker_org)
        } else if let Some(talent) = deal.from_listing_id.map(listing).transpose()?.flatten() {
            (talent, Side::Asker, &deal.owner_org)
        } else {
            return Ok(None);
        };
        let org = self.accounts.org_by_name(engaging_org)?.ok_or_else(|| {
            AppError::Conflict(format!("the engaging organisation {engaging_org:?} is not registered"))
        })?;
        let start = signed_on.0;
        let end = match until {
            Some(day) => day.0,
            None => start.replace_year(start.year() + 1).unwrap_or(start).previous_day().unwrap_or(start),
        };
        let share_percent = if mode == Mode::FullTime { 100 } else { share_percent.unwrap_or(50) };
        let commitment = Commitment { mode, start, end, weekdays: Vec::new(), share_percent };
        check_terms(&commitment).map_err(|(field, message)| AppError::bad_input(field, message))?;
        let new = NewEngagement {
            talent_id: talent.id,
            talent_region: talent.body.region_codes.first().cloned().unwrap_or_default(),
            sector: talent.body.industry_codes.first().map(|code| section_of(code)).unwrap_or_default(),
            org_id: org.id,
            organisation: org.name.clone(),
            org_region: org.region_code.clone(),
            mode,
            start: start.to_string(),
            end: end.to_string(),
            weekdays: Vec::new(),
            share_percent,
            proposed_by: signer_name.to_string(),
        };
        Ok(Some((new, if signer == talent_side { State::Accepted } else { State::Proposed })))
    }

    /// Proposes an engagement of a talent.
    pub fn propose_engagement(&self, actor: &Actor, input: EngagementInput) -> AppResult<Engagement> {
        let principal = actor.user()?;
        let mode: Mode = input.mode.parse().map_err(|err: String| AppError::bad_input("mode", err))?;
        let start = date("start", &input.start)?;
        let end = date("end", &input.end)?;
        let mut weekdays = input.weekdays.clone();
        weekdays.sort_unstable();
        weekdays.dedup();
        let share_percent = match mode {
            Mode::DualAppointment => input.share_percent.unwrap_or(0),
            Mode::FullTime => 100,
            Mode::WeekendEngineer | Mode::RemoteConsulting => 0,
        };
        if mode != Mode::WeekendEngineer {
            weekdays.clear();
        }
        let commitment = Commitment { mode, start, end, weekdays: weekdays.clone(), share_percent };
        check_terms(&commitment).map_err(|(field, message)| AppError::bad_input(field, message))?;
        let talent_id: ListingId =
            input.talent.trim().parse().map_err(|_| AppError::bad_input("talent", "not a listing id"))?;
        let talent = match self.store.get(talent_id) {
            Ok(listing) if listing.kind() == Kind::Talent && actor.viewer.can_read(&listing.body) => listing,
            Ok(_) | Err(StoreError::NotFound(_)) => return Err(AppError::bad_input("talent", "no such talent")),
            Err(err) => return Err(err.into()),
        };
        let wanted = input.organisation.clone().or_else(|| principal.org.clone()).ok_or_else(|| {
            AppError::bad_input("organisation", "name the engaging organisation (you belong to none)")
        })?;
        let org = match wanted.trim().parse::<i64>() {
            Ok(id) => self.accounts.org(xietong_domain::OrgId(id))?,
            Err(_) => self.accounts.org_by_name(wanted.trim())?,
        }
        .ok_or_else(|| AppError::bad_input("organisation", format!("no organisation {wanted:?}")))?;
        let may = principal.role == Role::PlatformAdmin
            || principal.org.as_deref() == Some(org.name.as_str())
            || (principal.role == Role::RegionOperator && principal.operates_region(&org.region_code));
        if !may {
            return Err(AppError::Forbidden("only the engaging organisation's members propose its engagements".into()));
        }
        let new = NewEngagement {
            talent_id,
            talent_region: talent.body.region_codes.first().cloned().unwrap_or_default(),
            sector: talent.body.industry_codes.first().map(|code| section_of(code)).unwrap_or_default(),
            org_id: org.id,
            organisation: org.name.clone(),
            org_region: org.region_code.clone(),
            mode,
            start: start.to_string(),
            end: end.to_string(),
            weekdays,
            share_percent,
            proposed_by: principal.username.clone(),
        };
        let talent_org = talent.body.owner_org.clone();
        let email = self.email_notices();
        Ok(self.talent.propose_engagement(new, &|stored| {
            let mut entry = actor.audit("engagement.propose", stored.id.to_string(), Some(stored.org_region.clone()));
            entry.notices =
                talent_org.iter().map(|org| notice(stored, "engagement.proposed", org, principal, email)).collect();
            entry.detail = serde_json::json!({
                "talent": stored.talent_id.to_string(), "organisation": stored.organisation, "mode": stored.mode,
                "start": stored.start, "end": stored.end,
            });
            entry
        })?)
    }

    /// An engagement, for its two sides, the operators of either region and the admin.
    pub fn engagement(&self, actor: &Actor, id: i64) -> AppResult<Engagement> {
        let principal = actor.user()?;
        let engagement =
            self.talent.engagement(id)?.ok_or_else(|| AppError::NotFound(format!("no engagement {id}")))?;
        let talent_side = self.store.get(engagement.talent_id).is_ok_and(|l| actor.viewer.can_write(&l.body));
        let sees = talent_side
            || principal.org.as_deref() == Some(engagement.organisation.as_str())
            || principal.operates_region(&engagement.org_region)
            || (principal.role == Role::RegionOperator && principal.operates_region(&engagement.talent_region));
        if !sees {
            return Err(AppError::NotFound(format!("no engagement {id}")));
        }
        Ok(engagement)
    }

    /// Accepts, declines or ends an engagement decided on `version`.
    pub fn move_engagement(
        &self,
        actor: &Actor,
        id: i64,
        version: Option<i64>,
        action: EngagementAction,
    ) -> AppResult<Engagement> {
        let principal = actor.user()?;
        let engagement = self.engagement(actor, id)?;
        let talent_side =
            principal.is_admin() || self.store.get(engagement.talent_id).is_ok_and(|l| actor.viewer.can_write(&l.body));
        let org_side = principal.is_admin() || principal.org.as_deref() == Some(engagement.organisation.as_str());
        let to = match (action, engagement.state) {
            (EngagementAction::Accept, State::Proposed) if talent_side => State::Accepted,
            (EngagementAction::Decline, State::Proposed) if talent_side => State::Declined,
            (EngagementAction::End, State::Accepted | State::Proposed) if talent_side || org_side => State::Ended,
            (EngagementAction::Accept | EngagementAction::Decline, State::Proposed) => {
                return Err(AppError::Forbidden("only the talent accepts or declines an engagement".into()));
            }
            (EngagementAction::End, State::Accepted | State::Proposed) => {
                return Err(AppError::Forbidden("only the two sides end an engagement".into()));
            }
            (_, state) => {
                return Err(AppError::Conflict(format!("the engagement is {}", state.as_str())));
            }
        };
        let expected = version.unwrap_or(engagement.version);
        // The other side is told: the organisation when the talent's side moved, else the talent's.
        let other = if principal.org.as_deref() == Some(engagement.organisation.as_str()) {
            self.store.get(engagement.talent_id).ok().and_then(|l| l.body.owner_org)
        } else {
            Some(engagement.organisation.clone())
        };
        let email = self.email_notices();
        Ok(self.talent.move_engagement(id, expected, to, &|stored| {
            let mut entry = actor.audit(
                &format!("engagement.{}", stored.state.as_str()),
                stored.id.to_string(),
                Some(stored.org_region.clone()),
            );
            entry.notices =
                other.iter().map(|org| notice(stored, "engagement.decided", org, principal, email)).collect();
            entry
        })?)
    }

    /// A talent's engagements (what the talent page shows; readable with the listing).
    pub fn engagements_of(&self, actor: &Actor, talent_id: ListingId) -> AppResult<Vec<Engagement>> {
        match self.store.get(talent_id) {
            Ok(listing) if actor.viewer.can_read(&listing.body) => Ok(self.talent.engagements(Some(talent_id))?),
            Ok(_) | Err(StoreError::NotFound(_)) => Err(AppError::NotFound(format!("no talent {talent_id}"))),
            Err(err) => Err(err.into()),
        }
    }

    /// The dashboard's figures of Beijing talents serving Tianjin and Hebei organisations,
    /// counting only talents the actor may read (like every dashboard figure).
    pub fn engagement_stats(&self, actor: &Actor) -> AppResult<EngagementStats> {
        let mut stats = EngagementStats::default();
        let mut talents = std::collections::HashSet::new();
        let engagements = self.talent.engagements(None)?;
        let mut ids: Vec<ListingId> = engagements.iter().map(|e| e.talent_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let readable: std::collections::HashSet<ListingId> = self
            .store
            .get_many(&ids)?
            .into_iter()
            .filter(|listing| actor.viewer.read_scope().allows(&listing.body))
            .map(|listing| listing.id)
            .collect();
        for engagement in engagements {
            if !readable.contains(&engagement.talent_id) {
                continue;
            }
            let org_province = province(&engagement.org_region);
            if engagement.state != State::Accepted
                || province(&engagement.talent_region) != "110000"
                || !matches!(org_province.as_str(), "120000" | "130000")
            {
                continue;
            }
            talents.insert(engagement.talent_id);
            *stats.by_mode.entry(engagement.mode.as_str().to_string()).or_default() += 1;
            *stats.by_sector.entry(engagement.sector.clone()).or_default() += 1;
            *stats.by_province.entry(org_province).or_default() += 1;
        }
        stats.beijing_talents_serving_tianjin_hebei = talents.len();
        Ok(stats)
    }
}
