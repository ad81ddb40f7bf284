//! Every default direction of matching (精准对接) returns matches on the demo catalogue: a listing
//! of each kind, matched with no kind asked for, gets hits of every complementary kind.

use xietong_app::{App, DataDir};
use xietong_domain::{Kind, ReadScope, Status};
use xietong_search::complementary_kinds;
use xietong_store::ListFilter;

#[test]
fn every_default_direction_returns_matches_on_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(&DataDir::create(dir.path()).unwrap()).unwrap();
    app.load_demo(xietong_demo::DEFAULT_SEED).unwrap();
    demo_deals_are_alive(&app);
    demo_bookings_are_alive(&app);
    demo_chains_show_gaps(&app);
    let expected = [
        (Kind::Talent, vec![Kind::Demand, Kind::Challenge, Kind::Scenario, Kind::Enterprise]),
        (Kind::Facility, vec![Kind::Demand, Kind::Achievement]),
        (Kind::Enterprise, vec![Kind::Achievement, Kind::Talent, Kind::Challenge, Kind::Facility]),
        (Kind::Scenario, vec![Kind::Achievement, Kind::Talent, Kind::Enterprise]),
        (Kind::Challenge, vec![Kind::Talent, Kind::Enterprise, Kind::Achievement]),
        (Kind::Demand, vec![Kind::Achievement, Kind::Talent, Kind::Facility]),
        (Kind::Achievement, vec![Kind::Scenario, Kind::Demand, Kind::Enterprise, Kind::Facility]),
    ];
    for (kind, targets) in expected {
        assert_eq!(complementary_kinds(kind), targets, "default directions of {kind}");
        let filter = ListFilter { kind: Some(kind), status: Some(Status::Published), ..Default::default() };
        let sources = app.store().list(&filter, 5, 0).unwrap().items;
        assert!(!sources.is_empty(), "the demo has published {kind} listings");
        for source in &sources {
            let hits = app.index().match_listing(source, None, 40, &ReadScope::All).unwrap();
            for target in &targets {
                assert!(
                    hits.iter().any(|h| h.kind == *target),
                    "{kind} {:?} found no {target} among {:?}",
                    source.body.title,
                    hits.iter().map(|h| h.kind).collect::<Vec<_>>()
                );
            }
        }
    }
}

/// The demo has deals in every state, ent_a on both sides and tm_1 brokering some, declines
/// with several reasons, and converted deals in four region pairs of the funnel.
fn demo_deals_are_alive(app: &App) {
    use xietong_domain::deal::{DealEvent, DealState};
    let login = |name: &str| {
        let session = app.account().login(name, xietong_app::demo_accounts::DEMO_PASSWORD, None).unwrap();
        xietong_app::Actor::new(xietong_domain::Viewer::User(session.principal), None)
    };
    let ent_a = login("ent_a");
    let deals = app.deals(&ent_a, None, None).unwrap();
    let states: std::collections::BTreeSet<&str> = deals.iter().map(|d| d.state.as_str()).collect();
    for state in DealState::ALL {
        assert!(states.contains(state.as_str()), "a demo deal of ent_a is {state}: {states:?}");
    }
    assert!(
        deals.iter().any(|d| d.timeline.iter().map(|s| s.state.as_str()).collect::<Vec<_>>()
            == ["accepted", "meeting", "signed", "converted"]),
        "proposed → accepted → meeting → signed → converted"
    );
    assert_eq!(app.deals(&ent_a, None, Some(xietong_app::deal::DealSide::Owner)).unwrap().len(), 5);
    let reasons: std::collections::BTreeSet<String> = app
        .deals(&xietong_app::Actor::operator(), Some(DealState::Declined), None)
        .unwrap()
        .iter()
        .flat_map(|d| d.timeline.iter())
        .filter_map(|step| match &step.event {
            DealEvent::Decline { reason, .. } => Some(format!("{reason:?}")),
            _ => None,
        })
        .collect();
    assert!(reasons.len() >= 4, "declines with several reasons: {reasons:?}");
    let brokered = app.deals(&login("tm_1"), None, Some(xietong_app::deal::DealSide::Broker)).unwrap();
    assert!(!brokered.is_empty(), "tm_1 brokers demo deals");
    let funnel = app.funnel(&ReadScope::All, xietong_app::funnel::FunnelBy::RegionPair).unwrap();
    for pair in ["北京→河北", "河北→北京", "北京→天津", "河北→天津"] {
        let row = funnel.rows.iter().find(|row| row.label == pair);
        assert!(row.is_some_and(|row| row.converted > 0 && row.matches_viewed > 0), "{pair}: {:?}", funnel.rows);
    }
}

/// The demo has bookings in every state, calendars on every public pilot base, vouchers issued
/// from Beijing, Tianjin and Hebei, one of them spent in another province, each booking with
/// its audit entries.
fn demo_bookings_are_alive(app: &App) {
    use xietong_domain::booking::BookingState;
    let session = app.account().login("admin", xietong_app::demo_accounts::DEMO_PASSWORD, None).unwrap();
    let admin = xietong_app::Actor::new(xietong_domain::Viewer::User(session.principal), None);
    let bookings = app.operated_bookings(&admin, &BookingState::ALL).unwrap();
    let states: std::collections::BTreeSet<&str> = bookings.iter().map(|(b, _)| b.state.as_str()).collect();
    for state in BookingState::ALL {
        assert!(states.contains(state.as_str()), "a demo booking is {state}: {states:?}");
    }
    let (audited, _) = app.audit_trail(&admin, Some("booking.".into()), Some("demo".into()), 10_000, 0).unwrap();
    for (booking, _) in &bookings {
        assert!(
            audited.iter().any(|entry| entry.action.starts_with("booking.") && entry.target == booking.id.to_string()),
            "booking {} has its audit entry",
            booking.id
        );
    }
    let bookable: std::collections::BTreeSet<_> =
        app.operated_facilities(&admin).unwrap().into_iter().map(|f| f.id).collect();
    let filter = ListFilter { kind: Some(Kind::Facility), status: Some(Status::Published), ..Default::default() };
    let bases: Vec<_> = app
        .store()
        .list(&filter, 5_000, 0)
        .unwrap()
        .items
        .into_iter()
        .filter(|f| f.body.visibility == xietong_domain::Visibility::Public)
        .filter(|f| {
            matches!(&f.body.details, xietong_domain::Details::Facility(d) if d.facility_type == xietong_domain::FacilityType::PilotBase)
        })
        .collect();
    assert!(!bases.is_empty(), "the demo has public pilot bases");
    assert!(bases.iter().all(|base| bookable.contains(&base.id)), "every public pilot base has a calendar");
    let vouchers = app.vouchers(&admin).unwrap();
    let reference = xietong_domain::Reference::get();
    let provinces: std::collections::BTreeSet<String> =
        vouchers.iter().filter_map(|v| reference.province_of(&v.issuing_region).map(|p| p.code.clone())).collect();
    for province in ["110000", "120000", "130000"] {
        assert!(provinces.contains(province), "a demo voucher is issued from {province}: {provinces:?}");
    }
    let today = time::OffsetDateTime::now_utc().date();
    let utilisation = app
        .utilisation(
            &admin,
            xietong_app::booking::UtilisationBy::Region,
            today - time::Duration::days(60),
            today + time::Duration::days(30),
        )
        .unwrap();
    assert!(
        utilisation.voucher_spending.iter().any(|flow| flow.issuing_region != flow.spending_region && flow.spent > 0.0),
        "a voucher is spent in another province: {:?}",
        utilisation.voucher_spending
    );
    assert!(utilisation.rows.iter().any(|row| row.used_units > 0), "the demo facilities were used");
}

/// Issue 19: every province has a missing (建链) and a weak (补链) segment in the demo, each
/// with candidates to attract from a strong province, and the enclave view reproduces the seed's
/// 455 / 387 / 415 with the two recorded enclaves.
fn demo_chains_show_gaps(app: &App) {
    use xietong_app::chain::PROVINCES;
    use xietong_domain::chain::{Gap, GapRules};
    let operator = xietong_app::Actor::operator();
    let regions = app.chain_regions(None).unwrap();
    let views = app.chain_views(&operator, &app.chains().unwrap(), &regions, GapRules::default()).unwrap();
    for (slot, province) in PROVINCES.iter().enumerate() {
        for wanted in [Gap::Missing, Gap::Weak] {
            let found: Vec<(&str, &str)> = views
                .iter()
                .flat_map(|v| v.segments.iter().map(move |s| (v.id.as_str(), s)))
                .filter(|(_, s)| s.cells[slot].label.gap == wanted)
                .map(|(chain, s)| (chain, s.segment.id.as_str()))
                .collect();
            assert!(!found.is_empty(), "{province} has a {wanted:?} segment");
            let attractable = found.iter().any(|(chain, segment)| {
                !app.attraction(&operator, chain, segment, province, GapRules::default(), 10)
                    .unwrap()
                    .candidates
                    .is_empty()
            });
            assert!(attractable, "{province}'s {wanted:?} segments {found:?} have candidates elsewhere");
        }
    }
    let stats = app.enclave_stats(&operator).unwrap();
    assert_eq!(stats.recorded.len(), 2);
    assert_eq!(stats.fengtai.fengtai_firms_with_jinji_branches, 455);
    assert_eq!(stats.fengtai.jinji_firms_with_fengtai_sites, 387);
    assert_eq!(stats.fengtai.fengtai_sites_of_jinji_firms, 415);
    assert!(stats.flows.iter().any(|f| f.in_recorded_enclaves > 0));
}
