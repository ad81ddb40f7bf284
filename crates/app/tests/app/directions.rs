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
