//! Demo accounts for every role, tied to organisations that own demo listings, plus a few
//! listings that show the visibility levels (a draft, a region-only and an organisation-only
//! demand of `ent_a`, and the personal talent profile of `talent_1`).
//!
//! The usernames `admin`, `fengtai_ops`, `ent_a`, `ent_b` and `talent_1` are fixed: reviewers'
//! scripts use them.

use std::collections::HashMap;

use anyhow::Context;
use xietong_domain::{Kind, ListingBody, OrgKind, Reference, Role, validate};
use xietong_store::{NewAudit, NewOrg, NewUser};

use crate::App;
use crate::auth::hash_password;

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "xietong-demo";
/// Meta key recording that the demo accounts exist.
const META_KEY: &str = "demo_accounts";

/// One demo login, for the start-up banner and the README.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub username: String,
    pub role: Role,
    pub org: Option<String>,
}

/// Organisation that runs the Fengtai district's science and technology work.
pub const FENGTAI_BUREAU: &str = "丰台区科学技术和信息化局";
/// Technology-transfer agency whose manager acts for `ent_a`'s enterprise.
pub const TRANSFER_AGENCY: &str = "京津冀技术转移服务中心";

/// Whether the demo accounts were created.
pub fn exist(app: &App) -> anyhow::Result<bool> {
    Ok(app.store.meta_get(META_KEY)?.is_some())
}

/// The demo accounts as stored (empty before [`ensure`] ran). The meta entry names them, so
/// accounts an operator adds later are not listed as demo accounts.
pub fn list(app: &App) -> anyhow::Result<Vec<DemoAccount>> {
    let Some(usernames) = app.store.meta_get(META_KEY)? else { return Ok(Vec::new()) };
    let mut accounts = Vec::new();
    for username in usernames.split(',').filter(|u| !u.is_empty()) {
        let Some(user) = app.accounts.user_by_name(username)? else { continue };
        let org = match user.org_id {
            Some(id) => app.accounts.org(id)?.map(|o| o.name),
            None => None,
        };
        accounts.push(DemoAccount { username: user.username, role: user.role, org });
    }
    Ok(accounts)
}

/// Creates the demo organisations, accounts and showcase listings once; later calls only list
/// them. `listings` are the demo listings, used to pick real owners.
pub fn ensure(app: &App, listings: &[ListingBody]) -> anyhow::Result<Vec<DemoAccount>> {
    if exist(app)? {
        return list(app);
    }
    let plan = plan(listings);
    let hash = hash_password(DEMO_PASSWORD)?;
    let mut org_ids = HashMap::new();
    for (name, kind, region) in &plan.orgs {
        let org = match app.accounts.org_by_name(name)? {
            Some(org) => org,
            None => app
                .accounts
                .create_org(NewOrg { name: name.clone(), kind: *kind, region_code: region.clone() }, &|org| {
                    demo_audit("org.create", &org.name)
                })?,
        };
        org_ids.insert(name.clone(), org.id);
    }
    for (username, display_name, role, org, region) in plan.users() {
        if app.accounts.user_by_name(username)?.is_some() {
            continue;
        }
        let user = NewUser {
            username: username.to_string(),
            display_name: display_name.to_string(),
            role,
            org_id: org.as_ref().map(|name| org_ids[name]),
            region_code: region,
            password_hash: hash.clone(),
        };
        let appointed_by: Vec<xietong_domain::OrgId> =
            if role == Role::TechManager { vec![org_ids[&plan.ent_a]] } else { Vec::new() };
        app.accounts.create_user(user, &appointed_by, &|user| demo_audit("user.create", &user.username))?;
    }
    let reference = Reference::get();
    for body in plan.showcase_listings() {
        let body = validate(body, reference).map_err(|e| anyhow::anyhow!("demo showcase listing is invalid: {e}"))?;
        app.store.create(body).context("failed to store a demo showcase listing")?;
    }
    demo_deals(app, &plan)?;
    let talent_org = format!("{TALENT_NAME}（个人）");
    crate::demo_challenges::create(
        app,
        &crate::demo_challenges::DemoOrgs {
            organiser: &plan.ent_a,
            hebei: &plan.ent_b,
            university: &plan.university,
            talent: &talent_org,
        },
    )?;
    demo_bookings(app, &plan)?;
    crate::demo_talent::create(app, &plan.ent_b, &talent_org)?;
    let usernames: Vec<&str> = plan.users().iter().map(|user| user.0).collect();
    app.store.meta_set(META_KEY, &usernames.join(","))?;
    app.sync_index()?;
    list(app)
}

/// Deals in every state, so the deal pages, /account and the conversion funnel are alive on
/// first start: `ent_a` (Beijing) and `ent_b` (Hebei) ask about each other's listings and about
/// listings of Tianjin organisations, declines carry several reasons, converted deals span the
/// region pairs 北京→河北, 河北→北京, 北京→天津 and 河北→天津, and `tm_1` brokers for `ent_a`'s
/// side in some. Each deal and event is stored with its audit entry; the listings involved get
/// a few weeks of match impressions.
fn demo_deals(app: &App, plan: &Plan) -> anyhow::Result<()> {
    use xietong_domain::Day;
    use xietong_domain::deal::{AgreementType, DealEvent, DealState, DeclineReason, OutcomeStage, Side};
    use xietong_store::{DealChange, ImpressionCount, ListFilter, NewDeal};
    let user = |name: &str| -> anyhow::Result<xietong_domain::UserId> {
        Ok(app.accounts.user_by_name(name)?.with_context(|| format!("demo user {name} is missing"))?.id)
    };
    let published = |filter: ListFilter, count: u32| -> anyhow::Result<Vec<xietong_domain::Listing>> {
        let filter = ListFilter { status: Some(xietong_domain::Status::Published), ..filter };
        Ok(app.store.list(&filter, count, 0)?.items)
    };
    let of_org = |org: &str| -> anyhow::Result<Vec<xietong_domain::Listing>> {
        let filter = ListFilter { owner_org: Some(org.to_string()), ..ListFilter::default() };
        Ok(published(filter, 12)?
            .into_iter()
            .filter(|l| l.body.visibility == xietong_domain::Visibility::Public)
            .collect())
    };
    let (a_user, b_user, tm_user) = (user("ent_a")?, user("ent_b")?, user("tm_1")?);
    let (a_listings, b_listings) = (of_org(&plan.ent_a)?, of_org(&plan.ent_b)?);
    // Tianjin organisations without an account, for the pairs into Tianjin.
    let tianjin: Vec<xietong_domain::Listing> =
        published(ListFilter { region: Some("120000".into()), ..ListFilter::default() }, 40)?
            .into_iter()
            .filter(|l| l.body.owner_org.as_deref().is_some_and(|o| o != plan.ent_a && o != plan.ent_b))
            // Located in Tianjin first (the funnel places an organisation without an account by
            // its listing's first region; a listing with only a branch site in Tianjin would
            // make the pair 北京→北京, depending on which listings the page happens to hold).
            .filter(|l| {
                l.body
                    .region_codes
                    .first()
                    .and_then(|code| Reference::get().province_of(code))
                    .is_some_and(|p| p.code == "120000")
            })
            .collect();

    let meeting_at = time::macros::datetime!(2026-11-18 14:00 +08:00);
    let signed_on = Day(time::macros::date!(2026 - 11 - 25));
    let accept = || (Side::Owner, DealEvent::Accept, DealState::Accepted);
    let meeting =
        |place: &str| (Side::Asker, DealEvent::Meeting { at: meeting_at, place: place.into() }, DealState::Meeting);
    let sign = |agreement_type: AgreementType, value: f64| {
        (
            Side::Owner,
            DealEvent::Sign { agreement_type, value: Some(value), signed_on, share_percent: None, until: None },
            DealState::Signed,
        )
    };
    let outcome = |stage: OutcomeStage| {
        (Side::Asker, DealEvent::Outcome { stage, revenue_band: Some("100-500万元".into()) }, DealState::Converted)
    };
    let decline = |reason: DeclineReason, note: &str| {
        (Side::Owner, DealEvent::Decline { reason, note: Some(note.into()) }, DealState::Declined)
    };
    let close = |reason: &str| (Side::Asker, DealEvent::Close { reason: reason.into() }, DealState::Closed);
    let broker = |side: Side, state: DealState| (side, DealEvent::AppointBroker { username: "tm_1".into() }, state);
    type Step = (Side, DealEvent, DealState);
    /// Who asks (ent_a, ent_b) and about which listing pool.
    #[derive(Clone, Copy, PartialEq)]
    enum Pool {
        OfA,
        OfB,
        Tianjin,
    }
    let deals: Vec<(bool, Pool, Vec<Step>)> = vec![
        // ent_a asks ent_b (北京→河北).
        (true, Pool::OfB, Vec::new()),
        (true, Pool::OfB, vec![accept(), meeting("丰台科技园")]),
        (
            true,
            Pool::OfB,
            vec![
                broker(Side::Asker, DealState::Proposed),
                accept(),
                meeting("雄安新区"),
                sign(AgreementType::Licence, 120.0),
                outcome(OutcomeStage::PilotRun),
            ],
        ),
        (true, Pool::OfB, vec![accept(), sign(AgreementType::JointDevelopment, 300.0)]),
        (true, Pool::OfB, vec![decline(DeclineReason::Price, "报价超出预算")]),
        // ent_b asks ent_a (河北→北京).
        (false, Pool::OfA, vec![decline(DeclineReason::TrlTooLow, "需要 TRL 7 以上")]),
        (false, Pool::OfA, vec![accept(), close("项目延期")]),
        (false, Pool::OfA, vec![decline(DeclineReason::NotRelevant, "方向不一致")]),
        (
            false,
            Pool::OfA,
            vec![
                broker(Side::Owner, DealState::Proposed),
                accept(),
                sign(AgreementType::TechnicalService, 80.0),
                outcome(OutcomeStage::SmallBatch),
            ],
        ),
        (false, Pool::OfA, vec![accept()]),
        // Both ask Tianjin organisations (北京→天津, 河北→天津).
        (
            true,
            Pool::Tianjin,
            vec![
                accept(),
                meeting("天津滨海新区"),
                sign(AgreementType::Assignment, 260.0),
                outcome(OutcomeStage::MassProduction),
            ],
        ),
        (true, Pool::Tianjin, vec![decline(DeclineReason::Region, "仅考虑天津本地合作")]),
        (false, Pool::Tianjin, vec![accept(), sign(AgreementType::FacilityUse, 45.0), outcome(OutcomeStage::PilotRun)]),
        (false, Pool::Tianjin, vec![decline(DeclineReason::Timing, "明年再议")]),
        (false, Pool::Tianjin, vec![decline(DeclineReason::Capacity, "产能已满")]),
    ];
    let (mut next_of_a, mut next_of_b, mut next_in_tianjin) = (a_listings.iter(), b_listings.iter(), tianjin.iter());
    let today = crate::feedback::china_day(time::OffsetDateTime::now_utc());
    let mut impressions = Vec::new();
    for (index, (a_asks, pool, steps)) in deals.into_iter().enumerate() {
        // Each deal on a listing of its own: a small catalogue simply gets fewer demo deals.
        let next = match pool {
            Pool::OfA => next_of_a.next(),
            Pool::OfB => next_of_b.next(),
            Pool::Tianjin => next_in_tianjin.next(),
        };
        let Some(listing) = next else { continue };
        let Some(owner) = listing.body.owner_org.clone() else { continue };
        let (asker, asker_user, asker_name) =
            if a_asks { (&plan.ent_a, a_user, "ent_a") } else { (&plan.ent_b, b_user, "ent_b") };
        let owner_name = if pool == Pool::OfA {
            "ent_a"
        } else if pool == Pool::OfB {
            "ent_b"
        } else {
            owner.as_str()
        };
        let new = NewDeal {
            listing_id: listing.id,
            from_listing_id: None,
            asker_org: asker.clone(),
            owner_org: owner.clone(),
            asker_user_id: asker_user,
            message: "演示对接：希望进一步了解合作方式".into(),
        };
        let mut deal = app.deals.create_deal(new, &|d| demo_audit("deal.propose", &d.id.to_string()))?;
        let mut tm_acts_for = None;
        for (side, event, state) in steps {
            let appointed = matches!(event, DealEvent::AppointBroker { .. });
            let actor = if tm_acts_for == Some(side) {
                "tm_1"
            } else if side == Side::Asker {
                asker_name
            } else {
                owner_name
            };
            let change = DealChange {
                deal_id: deal.id,
                expected_version: deal.version,
                event: event.clone(),
                side,
                actor_id: None,
                actor: actor.to_string(),
                state,
                broker: appointed.then(|| (tm_user, "tm_1".to_string())),
                engagement: None,
            };
            deal = app
                .deals
                .apply_deal_change(change, &|d| demo_audit(&format!("deal.{}", event.name()), &d.id.to_string()))?;
            if appointed {
                tm_acts_for = Some(side);
            }
        }
        // A few weeks of appearances in match results, from the asker's province and others.
        let asker_province = if a_asks { "110000" } else { "130000" };
        for days_ago in 0..21u8 {
            let count = u64::from((days_ago * 7 + index as u8 * 3) % 5);
            if count == 0 {
                continue;
            }
            for (province, share) in [(asker_province, 2), ("120000", 1), ("", 1)] {
                impressions.push(ImpressionCount {
                    listing_id: listing.id,
                    day: today - time::Duration::days(i64::from(days_ago) * 3),
                    viewer_province: province.to_string(),
                    count: count * share,
                });
            }
        }
    }
    app.feedback.add_impressions(&impressions)?;
    Ok(())
}

/// Calendars, bookings and innovation vouchers, so the facility pages, the approval queue,
/// /account and the utilisation panel are alive on first start: a calendar for every published
/// public pilot base, every fifth instrument and every facility of `facility_1`'s organisation
/// (deterministic terms from the facility's rank by title); vouchers issued from Beijing
/// (Fengtai, to `ent_a`), Hebei (雄安新区, to `ent_b`, usable in Beijing) and Tianjin (to a
/// Tianjin enterprise); bookings by `ent_a` and `ent_b` in every state around today, the Hebei
/// voucher spent at a Beijing facility. Each write goes through the store with its audit entry.
fn demo_bookings(app: &App, plan: &Plan) -> anyhow::Result<()> {
    use xietong_domain::FacilityType;
    use xietong_domain::booking::{self as rules, BookingEvent, Calendar, DAY_MS, Request};
    use xietong_store::{BookingChange, ListFilter, ListSort, NewBooking, NewVoucher};

    let filter = ListFilter {
        kind: Some(Kind::Facility),
        status: Some(xietong_domain::Status::Published),
        sort: ListSort::Title,
        ..ListFilter::default()
    };
    let facilities: Vec<xietong_domain::Listing> = app
        .store
        .list(&filter, 5_000, 0)?
        .items
        .into_iter()
        .filter(|l| l.body.visibility == xietong_domain::Visibility::Public)
        .collect();
    let facility_type = |listing: &xietong_domain::Listing| match &listing.body.details {
        xietong_domain::Details::Facility(details) => details.facility_type,
        _ => FacilityType::Instrument,
    };
    let mut calendars: Vec<(xietong_domain::Listing, Calendar)> = Vec::new();
    let (mut bases, mut instruments) = (0usize, 0usize);
    for listing in facilities {
        let own = listing.body.owner_org.as_deref() == Some(plan.facility_operator.as_str());
        let calendar = match facility_type(&listing) {
            FacilityType::PilotBase => {
                bases += 1;
                pilot_base_calendar(bases)
            }
            FacilityType::Instrument => {
                instruments += 1;
                if !own && instruments % 5 != 1 {
                    continue;
                }
                instrument_calendar(instruments)
            }
            FacilityType::PilotLine if own => pilot_base_calendar(bases + 1),
            FacilityType::Lab if own => instrument_calendar(instruments + 1),
            FacilityType::PilotLine | FacilityType::Lab => continue,
        };
        let stored = app
            .bookings
            .set_calendar(listing.id, &calendar, &|_| demo_audit("facility.calendar", &listing.id.to_string()))?;
        calendars.push((listing, stored.calendar));
    }
    if calendars.is_empty() {
        return Ok(());
    }

    // Vouchers: Beijing (Fengtai) to ent_a, Hebei (雄安) to ent_b, Tianjin to a Tianjin firm.
    let org = |name: &str, region: &str| -> anyhow::Result<xietong_store::Org> {
        Ok(match app.accounts.org_by_name(name)? {
            Some(org) => org,
            None => app.accounts.create_org(
                NewOrg { name: name.to_string(), kind: OrgKind::Enterprise, region_code: region.to_string() },
                &|org| demo_audit("org.create", &org.name),
            )?,
        })
    };
    let tianjin_filter = ListFilter {
        kind: Some(Kind::Enterprise),
        region: Some("120000".into()),
        sort: ListSort::Title,
        ..ListFilter::default()
    };
    let tianjin_firm = app
        .store
        .list(&tianjin_filter, 1, 0)?
        .items
        .into_iter()
        .find_map(|l| Some((l.body.owner_org.clone()?, l.body.region_codes.first()?.clone())))
        .unwrap_or_else(|| ("天津滨海新材料有限公司".to_string(), "120116".to_string()));
    let today = rules::beijing_date(rules::to_ms(time::OffsetDateTime::now_utc()));
    let valid_until = rules::day_start(today + time::Duration::days(365)) - 1;
    let issue = |org: xietong_store::Org, wan: i64, issuing: &str, accepted: &[&str], by: &str| {
        let voucher = NewVoucher {
            org_id: org.id,
            organisation: org.name,
            amount_fen: wan * rules::FEN_PER_WAN,
            issuing_region: issuing.to_string(),
            accepted_regions: accepted.iter().map(|code| code.to_string()).collect(),
            valid_until,
            issued_by: by.to_string(),
        };
        app.bookings.issue_voucher(voucher, &|v| demo_audit("voucher.issue", &v.id.to_string()))
    };
    let ent_a_org = org(&plan.ent_a, "110106")?;
    let ent_b_org = org(&plan.ent_b, "130000")?;
    let beijing = issue(ent_a_org, 20, "110106", &["110000", "120000", "130000"], "fengtai_ops")?;
    let hebei = issue(ent_b_org, 30, "133100", &["110000", "130000"], "admin")?;
    issue(org(&tianjin_firm.0, &tianjin_firm.1)?, 15, "120000", &["120000", "110000"], "admin")?;

    // Bookings: on the facilities of facility_1's organisation first (its queue), then others.
    let user = |name: &str| -> anyhow::Result<(xietong_domain::UserId, Option<String>)> {
        let user = app.accounts.user_by_name(name)?.with_context(|| format!("demo user {name} is missing"))?;
        let org = match user.org_id {
            Some(id) => app.accounts.org(id)?.map(|o| o.name),
            None => None,
        };
        Ok((user.id, org))
    };
    let mut order: Vec<&(xietong_domain::Listing, Calendar)> = calendars
        .iter()
        .filter(|(l, _)| l.body.owner_org.as_deref() == Some(plan.facility_operator.as_str()))
        .collect();
    order
        .extend(calendars.iter().filter(|(l, _)| l.body.owner_org.as_deref() != Some(plan.facility_operator.as_str())));
    // The nth open slot of a calendar from `day` on.
    let open_slot = |calendar: &Calendar, day: time::Date, nth: usize| -> Option<i64> {
        let from = rules::day_start(day);
        calendar.slots(from, from + 21 * DAY_MS).filter(|slot| calendar.closed_because(*slot).is_none()).nth(nth)
    };
    let book = |booker: &str,
                (listing, calendar): &(xietong_domain::Listing, Calendar),
                start: i64,
                quantity: u32,
                voucher: Option<i64>,
                waitlist: bool|
     -> anyhow::Result<xietong_store::Booking> {
        let (booker_id, booker_org) = user(booker)?;
        let end = start + calendar.unit.slot_ms();
        let new = NewBooking {
            facility_id: listing.id,
            booker_id,
            booker: booker.to_string(),
            booker_org,
            request: Request { start, end, quantity },
            units: 1,
            purpose: "演示预约：工艺验证与小批量试制".to_string(),
            charge_fen: calendar.charge_fen(1, quantity),
            voucher_id: voucher,
            waitlist,
        };
        Ok(app
            .bookings
            .create_booking(new, &|b| demo_audit(&format!("booking.{}", b.state.as_str()), &b.id.to_string()))?)
    };
    let step = |booking: xietong_store::Booking,
                actor: &str,
                event: BookingEvent|
     -> anyhow::Result<xietong_store::Booking> {
        let acting =
            rules::Acting { booker: actor.starts_with("ent_"), operator: !actor.starts_with("ent_"), system: false };
        let state = rules::transition(booking.state, &event, acting)
            .map_err(|refusal| anyhow::anyhow!("demo booking: {refusal}"))?;
        let change = BookingChange {
            booking_id: booking.id,
            expected_version: booking.version,
            event: event.clone(),
            actor: actor.to_string(),
            state,
            voucher: rules::voucher_move(booking.state, state, false),
            charged: false,
            reschedule: None,
        };
        let name = event.name();
        Ok(app.bookings.apply_booking_change(
            change,
            &|b| demo_audit(&format!("booking.{name}"), &b.id.to_string()),
            &|b| demo_audit("booking.promote", &b.id.to_string()),
        )?)
    };
    let approve = BookingEvent::Approve;
    let Some(main) = order.first().copied() else { return Ok(()) };
    let next_week = today + time::Duration::days(7);
    let weeks_ago = |weeks: i64| today - time::Duration::days(7 * weeks);
    let slot = |facility: &(xietong_domain::Listing, Calendar), day: time::Date, nth: usize| {
        open_slot(&facility.1, day, nth).context("a demo calendar has open slots")
    };
    // The main facility (facility_1's): every state, both vouchers.
    book("ent_b", main, slot(main, next_week, 0)?, 1, Some(hebei.id), false)?;
    let approved = book("ent_a", main, slot(main, next_week, 1)?, 1, Some(beijing.id), false)?;
    step(approved, "facility_1", approve.clone())?;
    let declined = book("ent_a", main, slot(main, next_week, 2)?, 1, None, false)?;
    step(declined, "facility_1", BookingEvent::Decline { reason: "该时段已安排设备维护".into() })?;
    let cancelled = book("ent_b", main, slot(main, next_week, 3)?, 1, None, false)?;
    step(cancelled, "ent_b", BookingEvent::Cancel { reason: Some("试制计划调整".into()) })?;
    // A full slot and a waitlisted request behind it.
    let full = slot(main, next_week, 4)?;
    let taken = book("ent_a", main, full, main.1.capacity, None, false)?;
    step(taken, "facility_1", approve.clone())?;
    book("ent_b", main, full, 1, None, true)?;
    // The past: the Hebei voucher spent at this Beijing facility, a no-show, a Beijing voucher spent.
    let completed = book("ent_b", main, slot(main, weeks_ago(2), 0)?, 1, Some(hebei.id), false)?;
    let completed = step(completed, "facility_1", approve.clone())?;
    step(completed, "facility_1", BookingEvent::Complete)?;
    let absent = book("ent_a", main, slot(main, weeks_ago(1), 1)?, 1, None, false)?;
    let absent = step(absent, "facility_1", approve.clone())?;
    step(absent, "facility_1", BookingEvent::NoShow)?;
    let used = book("ent_a", main, slot(main, weeks_ago(3), 2)?, 1, Some(beijing.id), false)?;
    let used = step(used, "facility_1", approve.clone())?;
    step(used, "facility_1", BookingEvent::Complete)?;
    // A few weeks of use at the next facilities, for the utilisation panel.
    for (rank, facility) in order.iter().skip(1).take(8).enumerate() {
        let booker = if rank.is_multiple_of(2) { "ent_a" } else { "ent_b" };
        for weeks in 1..=3 {
            let Some(start) = open_slot(&facility.1, weeks_ago(weeks), rank % 3) else { continue };
            let past = book(booker, facility, start, 1, None, false)?;
            let past = step(past, "admin", approve.clone())?;
            step(past, "admin", BookingEvent::Complete)?;
        }
        if let Some(start) = open_slot(&facility.1, today + time::Duration::days(2), rank % 4) {
            let coming = book(booker, facility, start, 1, None, false)?;
            if rank % 3 != 2 {
                step(coming, "admin", approve.clone())?;
            }
        }
    }
    Ok(())
}

/// A pilot base's calendar (the `rank`th by title): booked by the day or the batch, two to four
/// lines at once, open Monday to Saturday, some with a maintenance closure or a clearance.
fn pilot_base_calendar(rank: usize) -> xietong_domain::booking::Calendar {
    let unit = if rank.is_multiple_of(3) { "batch" } else { "day" };
    let hours: Vec<serde_json::Value> = ["mon", "tue", "wed", "thu", "fri", "sat"]
        .iter()
        .map(|weekday| serde_json::json!({"weekday": weekday, "open": "08:00", "close": "20:00"}))
        .collect();
    let price = if unit == "batch" { 30_000 + (rank % 4) * 5_000 } else { 8_000 + (rank % 5) * 2_000 };
    serde_json::from_value(serde_json::json!({
        "unit": unit, "capacity": 2 + rank % 3, "opening_hours": hours, "closures": [],
        "min_length": 1, "max_length": 14, "lead_time_hours": 48, "requires_clearance": rank.is_multiple_of(2),
        "price_per_unit": price, "free_cancellation_hours": 72,
    }))
    .expect("a demo pilot base calendar is well-formed")
}

/// An instrument's calendar (the `rank`th by title): booked by the hour on weekdays 08:00–18:00,
/// one or two at once.
fn instrument_calendar(rank: usize) -> xietong_domain::booking::Calendar {
    let mut weekdays = vec!["mon", "tue", "wed", "thu", "fri"];
    if rank.is_multiple_of(3) {
        weekdays.push("sat");
    }
    let hours: Vec<serde_json::Value> = weekdays
        .iter()
        .map(|weekday| serde_json::json!({"weekday": weekday, "open": "08:00", "close": "18:00"}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "unit": "hour", "capacity": 1 + rank % 2, "opening_hours": hours, "closures": [],
        "min_length": 1, "max_length": 8, "lead_time_hours": 24, "requires_clearance": rank.is_multiple_of(4),
        "price_per_unit": 200 + (rank % 8) * 100, "free_cancellation_hours": 24,
    }))
    .expect("a demo instrument calendar is well-formed")
}

/// The audit entry of a demo account record: made by the demo loader, not by a person.
fn demo_audit(action: &str, target: &str) -> NewAudit {
    NewAudit { actor: "demo".into(), action: action.into(), target: target.into(), ..NewAudit::default() }
}

struct Plan {
    ent_a: String,
    ent_b: String,
    university: String,
    facility_operator: String,
    /// Name, kind, region.
    orgs: Vec<(String, OrgKind, String)>,
}

const TALENT_NAME: &str = "王晓明";

fn plan(listings: &[ListingBody]) -> Plan {
    let reference = Reference::get();
    let mut owned: HashMap<&str, usize> = HashMap::new();
    for body in listings {
        if let Some(owner) = &body.owner_org {
            *owned.entry(owner.as_str()).or_default() += 1;
        }
    }
    // The enterprise with its head office (first region) in `region` that owns most listings.
    let busiest = |kind: Kind, region: &str, exclude: &[&str]| -> Option<(String, String)> {
        listings
            .iter()
            .filter(|b| b.kind() == kind)
            .filter_map(|b| Some((b.owner_org.as_deref()?, b.region_codes.first()?)))
            .filter(|(owner, code)| reference.region_within(code, region) && !exclude.contains(owner))
            .max_by(|a, b| owned[a.0].cmp(&owned[b.0]).then_with(|| b.0.cmp(a.0)))
            .map(|(owner, code)| (owner.to_string(), code.clone()))
    };
    let (ent_a, ent_a_region) = busiest(Kind::Enterprise, "110106", &[]).expect("demo has Fengtai enterprises");
    let (ent_b, ent_b_region) = busiest(Kind::Enterprise, "133100", &[])
        .or_else(|| busiest(Kind::Enterprise, "130000", &[]))
        .expect("demo has Hebei enterprises");
    let enterprises: Vec<&str> =
        listings.iter().filter(|b| b.kind() == Kind::Enterprise).map(|b| b.title.as_str()).collect();
    let (university, university_region) = busiest(Kind::Achievement, "110000", &enterprises)
        .unwrap_or_else(|| ("北京工业技术研究院".into(), "110108".into()));
    let (facility_operator, facility_region) = busiest(Kind::Facility, "110000", &enterprises)
        .unwrap_or_else(|| ("北京中试服务有限公司".into(), "110106".into()));
    let orgs = vec![
        (FENGTAI_BUREAU.to_string(), OrgKind::Government, "110106".to_string()),
        (ent_a.clone(), OrgKind::Enterprise, ent_a_region),
        (ent_b.clone(), OrgKind::Enterprise, ent_b_region),
        (university.clone(), OrgKind::University, university_region),
        (facility_operator.clone(), OrgKind::FacilityOperator, facility_region),
        (TRANSFER_AGENCY.to_string(), OrgKind::Enterprise, "110106".to_string()),
        (format!("{TALENT_NAME}（个人）"), OrgKind::Individual, "110108".to_string()),
    ];
    Plan { ent_a, ent_b, university, facility_operator, orgs }
}

/// Username, display name, role, organisation, operated region.
type PlannedUser = (&'static str, &'static str, Role, Option<String>, Option<String>);

impl Plan {
    fn users(&self) -> Vec<PlannedUser> {
        vec![
            ("admin", "平台管理员", Role::PlatformAdmin, None, None),
            ("fengtai_ops", "丰台区运营", Role::RegionOperator, Some(FENGTAI_BUREAU.into()), Some("110106".into())),
            ("ent_a_admin", "企业A管理员", Role::OrgAdmin, Some(self.ent_a.clone()), None),
            ("ent_a", "企业A成员", Role::Member, Some(self.ent_a.clone()), None),
            ("ent_b", "企业B成员", Role::Member, Some(self.ent_b.clone()), None),
            ("uni_1", "高校成员", Role::Member, Some(self.university.clone()), None),
            ("facility_1", "设施运营成员", Role::Member, Some(self.facility_operator.clone()), None),
            ("tm_1", "技术经理人", Role::TechManager, Some(TRANSFER_AGENCY.into()), None),
            ("talent_1", TALENT_NAME, Role::Talent, Some(format!("{TALENT_NAME}（个人）")), None),
        ]
    }

    fn showcase_listings(&self) -> Vec<ListingBody> {
        let demand = |title: &str, status: &str, visibility: &str| {
            serde_json::json!({
                "kind": "demand",
                "title": title,
                "summary": format!("{title}：面向京津冀征集技术方案，可在丰台研发、河北转化。"),
                "keywords": ["机器视觉", "质量检测"],
                "region_codes": ["110106"],
                "owner_org": self.ent_a,
                "contact": {"name": "赵工", "phone": "13800001111", "email": "zhao@example.com"},
                "status": status,
                "visibility": visibility,
                "external_id": format!("showcase-{visibility}-{status}"),
            })
        };
        let talent = serde_json::json!({
            "kind": "talent",
            "title": format!("{TALENT_NAME} — 机器视觉算法工程师"),
            "summary": "十年工业视觉检测经验，可周末到河北工厂现场支持。",
            "keywords": ["机器视觉", "缺陷检测", "深度学习"],
            "region_codes": ["110108"],
            "owner_org": format!("{TALENT_NAME}（个人）"),
            "contact": {"name": TALENT_NAME, "phone": "13912345678", "email": "wangxm@example.com"},
            "visibility": "registered",
            "availability": ["weekend_engineer"],
            "expertise": ["机器视觉", "缺陷检测"],
        });
        [
            demand("视觉检测产线升级需求（草稿）", "draft", "public"),
            demand("丰台区内共享的检测设备需求", "published", "region"),
            demand("内部立项：下一代视觉检测平台", "published", "organisation"),
            talent,
        ]
        .into_iter()
        .map(|value| serde_json::from_value(value).expect("showcase listings are well-formed"))
        .collect()
    }
}
