//! The planner's view (issue 19) on a small constructed catalogue: the counts per segment and
//! region equal a direct count over the listings, the gap labels follow the stated rules, and
//! the attraction list names only enterprises and achievements outside the region that are
//! strong in the segment.

use std::collections::BTreeSet;

use xietong_app::chain::{ChainView, PROVINCES};
use xietong_app::{Actor, App, DataDir};
use xietong_domain::chain::{Chain, Gap, GapRules, Segment, Stage, side_of};
use xietong_domain::{Kind, Listing, ListingBody, ListingId, Reference, Status};
use xietong_store::ListFilter;

fn body(json: serde_json::Value) -> ListingBody {
    serde_json::from_value(json).unwrap()
}

fn listing(kind: &str, title: &str, region: &str, codes: &[&str], text: &str) -> ListingBody {
    let mut value = serde_json::json!({
        "kind": kind, "title": title, "summary": text, "region_codes": [region],
        "industry_codes": codes, "owner_org": format!("{title}机构"),
    });
    if kind == "achievement" {
        value["trl"] = 5.into();
    }
    body(value)
}

fn segment(id: &str, stage: Stage, codes: &[&str], phrases: &[&str]) -> Segment {
    Segment {
        id: id.into(),
        stage,
        name_zh: format!("环节{id}"),
        name_en: id.into(),
        industry_codes: codes.iter().map(|c| c.to_string()).collect(),
        products: phrases.iter().map(|p| p.to_string()).collect(),
        technologies: Vec::new(),
        listings: Vec::new(),
    }
}

struct Catalogue {
    _dir: tempfile::TempDir,
    app: App,
    multi_site: ListingId,
    explicit: ListingId,
}

fn catalogue() -> Catalogue {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(&DataDir::create(dir.path()).unwrap()).unwrap();
    let operator = Actor::operator();
    let create = |body: ListingBody| app.create_listing(&operator, body).unwrap().listing.id;
    for index in 0..4 {
        create(listing("enterprise", &format!("北京无人机企业{index}"), "110108", &["3963"], "工业级无人机整机"));
    }
    let mut multi = listing("enterprise", "京冀两地无人机企业", "110108", &["3963"], "研发在北京，制造在保定");
    if let xietong_domain::Details::Enterprise(details) = &mut multi.details {
        details.sites = vec![
            xietong_domain::Site { region_code: "110108".into(), role: xietong_domain::SiteRole::Hq, address: None },
            xietong_domain::Site {
                region_code: "130602".into(),
                role: xietong_domain::SiteRole::Manufacturing,
                address: None,
            },
        ];
    }
    let multi_site = create(multi);
    create(listing("demand", "北京巡检需求", "110108", &["3963"], "需要无人机巡检"));
    create(listing("achievement", "天津巡检成果", "120116", &[], "一种变电站巡检机器人"));
    for index in 0..3 {
        create(listing("demand", &format!("天津无人机需求{index}"), "120116", &["3963"], "需要应急无人机"));
    }
    create(listing("scenario", "河北应急场景", "130602", &["3963"], "山区应急救援场景"));
    create(listing("enterprise", "河北原料药企业", "130602", &["2710"], "原料药生产"));
    let explicit = create(listing("achievement", "天津存储成果", "120116", &[], "一种新型存储器件"));
    // An archived listing counts nowhere.
    let mut archived = listing("enterprise", "已归档无人机企业", "130602", &["3963"], "");
    archived.status = Status::Archived;
    create(archived);
    let mut explicit_segment = segment("t-chips", Stage::Upstream, &["6520"], &["存算一体"]);
    explicit_segment.listings = vec![explicit];
    let chain = Chain {
        id: "test-chain".into(),
        name_zh: "测试链".into(),
        name_en: "Test chain".into(),
        sources: vec!["constructed for the test".into()],
        segments: vec![
            segment("t-drones", Stage::Midstream, &["3963"], &["巡检机器人"]),
            segment("t-api", Stage::Upstream, &["2710"], &[]),
            explicit_segment,
            segment("t-services", Stage::Downstream, &["8411"], &[]),
        ],
    };
    app.save_chain(&operator, chain, 0).unwrap();
    Catalogue { _dir: dir, app, multi_site, explicit }
}

/// The placement rules applied directly to a listing, independent of the index.
fn placed_directly(listing: &Listing, segment: &Segment) -> bool {
    let reference = Reference::get();
    let codes: BTreeSet<String> =
        listing.body.industry_codes.iter().flat_map(|c| reference.industry_ancestry(c)).collect();
    let text =
        format!("{}\n{}\n{}", listing.body.title, listing.body.keywords.join("\n"), listing.body.searchable_text());
    segment.listings.contains(&listing.id)
        || segment.industry_codes.iter().any(|c| codes.contains(c))
        || segment.phrases().any(|p| text.contains(p))
}

fn regions_of(listing: &Listing) -> BTreeSet<String> {
    let reference = Reference::get();
    let mut codes = listing.body.region_codes.clone();
    if let xietong_domain::Details::Enterprise(e) = &listing.body.details {
        codes.extend(e.sites.iter().map(|s| s.region_code.clone()));
    }
    codes.iter().flat_map(|c| reference.region_ancestry(c)).collect()
}

fn view(app: &App, district: Option<&str>, rules: GapRules) -> ChainView {
    app.chain_view(&Actor::operator(), "test-chain", district, rules).unwrap()
}

#[test]
fn counts_per_segment_and_region_equal_a_direct_count() {
    let catalogue = catalogue();
    let app = &catalogue.app;
    let filter = ListFilter { status: Some(Status::Published), ..ListFilter::default() };
    let published = app.store().list(&filter, 1_000, 0).unwrap().items;
    let chain_view = view(app, Some("130602"), GapRules::default());
    assert_eq!(chain_view.regions, ["110000", "120000", "130000", "130602"]);
    let chain = app.chain("test-chain").unwrap().chain;
    for (segment, segment_view) in chain.segments.iter().zip(&chain_view.segments) {
        for cell in &segment_view.cells {
            let in_cell: Vec<&Listing> = published
                .iter()
                .filter(|l| placed_directly(l, segment) && regions_of(l).contains(&cell.region))
                .collect();
            let supply = in_cell.iter().filter(|l| side_of(l.kind()) == xietong_domain::chain::Side::Supply).count();
            assert_eq!(cell.supply, supply as u64, "supply of {} in {}", segment.id, cell.region);
            assert_eq!(cell.demand, (in_cell.len() - supply) as u64, "demand of {} in {}", segment.id, cell.region);
            let enterprises = in_cell.iter().filter(|l| l.kind() == Kind::Enterprise).count();
            assert_eq!(cell.counts.enterprise, enterprises as u64);
        }
    }
    // The constructed figures, spelled out.
    let drones = &chain_view.segments[0];
    let supply: Vec<u64> = drones.cells.iter().map(|c| c.supply).collect();
    let demand: Vec<u64> = drones.cells.iter().map(|c| c.demand).collect();
    assert_eq!(supply, [5, 1, 1, 1], "the Tianjin achievement is placed by its text, the multi-site firm in Hebei too");
    assert_eq!(demand, [1, 3, 1, 1]);
    let explicit = &chain_view.segments[2];
    assert_eq!(explicit.placed_explicitly, 1);
    assert_eq!(explicit.cells[1].counts.achievement, 1, "the explicitly placed achievement counts in Tianjin");
    let _ = catalogue.explicit;
}

#[test]
fn gap_labels_follow_the_stated_rules() {
    let catalogue = catalogue();
    let app = &catalogue.app;
    for rules in [
        GapRules::default(),
        GapRules { strong_min_supply: 1, strong_supply_per_demand: 0.3 },
        GapRules { strong_min_supply: 6, strong_supply_per_demand: 1.0 },
    ] {
        let chain_view = view(app, None, rules);
        for segment in &chain_view.segments {
            for cell in &segment.cells {
                let expected = if cell.supply == 0 {
                    Gap::Missing
                } else if cell.supply >= rules.strong_min_supply
                    && cell.supply as f64 >= rules.strong_supply_per_demand * cell.demand as f64
                {
                    Gap::Strong
                } else {
                    Gap::Weak
                };
                assert_eq!(cell.label.gap, expected, "{} in {} under {rules:?}", segment.segment.id, cell.region);
                assert!(!cell.label.reason_zh.is_empty() && !cell.label.reason_en.is_empty());
            }
        }
    }
    let default_view = view(app, None, GapRules::default());
    let gaps = |index: usize| default_view.segments[index].cells.iter().map(|c| c.label.gap).collect::<Vec<_>>();
    assert_eq!(gaps(0), [Gap::Strong, Gap::Weak, Gap::Weak]);
    assert_eq!(gaps(1), [Gap::Missing, Gap::Missing, Gap::Weak]);
    assert_eq!(gaps(3), [Gap::Missing, Gap::Missing, Gap::Missing]);
    let lenient = view(app, None, GapRules { strong_min_supply: 1, strong_supply_per_demand: 0.3 });
    assert_eq!(lenient.segments[0].cells[1].label.gap, Gap::Strong, "1 ≥ 0.3 × 3 in Tianjin");
}

#[test]
fn attraction_names_only_outside_enterprises_strong_in_the_segment() {
    let catalogue = catalogue();
    let app = &catalogue.app;
    let rules = GapRules::default();
    let chain_view = view(app, None, rules);
    let strong: Vec<&str> = PROVINCES
        .iter()
        .zip(&chain_view.segments[0].cells)
        .filter(|(_, c)| c.label.gap == Gap::Strong)
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(strong, ["110000"]);
    for region in ["130000", "120000", "130602"] {
        let attraction = app.attraction(&Actor::operator(), "test-chain", "t-drones", region, rules, 50).unwrap();
        assert!(!attraction.candidates.is_empty(), "{region}");
        for candidate in &attraction.candidates {
            let listing = app.store().get(candidate.id).unwrap();
            let regions = regions_of(&listing);
            assert!(!regions.contains(region), "{} is inside {region}", listing.body.title);
            assert!(strong.iter().any(|p| regions.contains(*p)), "{} is in no strong province", listing.body.title);
            assert!(matches!(candidate.kind, Kind::Enterprise | Kind::Achievement));
            assert!(!candidate.reasons_zh.is_empty() && candidate.reasons_zh.len() == candidate.reasons_en.len());
            assert_eq!(candidate.title, listing.body.title);
        }
        let with_hebei_site = attraction.candidates.iter().any(|c| c.id == catalogue.multi_site);
        assert_eq!(with_hebei_site, region == "120000", "the firm with a Hebei plant is offered to Tianjin only");
    }
    let to_hebei = app.attraction(&Actor::operator(), "test-chain", "t-drones", "130000", rules, 50).unwrap();
    assert_eq!(to_hebei.candidates.len(), 4);
    assert_eq!(to_hebei.label.gap, Gap::Weak);
}

#[test]
fn only_the_admin_edits_chains_and_stale_edits_are_refused() {
    let catalogue = catalogue();
    let app = &catalogue.app;
    let record = app.chain("test-chain").unwrap();
    assert_eq!(record.version, 1);
    let stale = app.save_chain(&Actor::operator(), record.chain.clone(), 0);
    assert!(matches!(stale, Err(xietong_app::AppError::Conflict(_))), "{stale:?}");
    let anonymous = Actor::new(xietong_domain::Viewer::Anonymous, None);
    assert!(app.save_chain(&anonymous, record.chain.clone(), 1).is_err());
    let mut clash = app.chain("safety").unwrap().chain;
    clash.segments[0].id = "t-drones".into();
    assert!(matches!(app.save_chain(&Actor::operator(), clash, 0), Err(xietong_app::AppError::BadInput { .. })));
    assert_eq!(app.chains().unwrap().len(), 6, "five shipped chains and the constructed one");
}

#[test]
fn every_bundle_fits_in_kinds_segments_and_regions_and_is_explained() {
    let catalogue = catalogue();
    let app = &catalogue.app;
    let operator = Actor::operator();
    let create = |body: ListingBody| app.create_listing(&operator, body).unwrap().listing.id;
    let facility = |title: &str, facility_type: &str, codes: &[&str]| {
        body(serde_json::json!({"kind": "facility", "title": title, "summary": "中试服务", "region_codes": ["120116"],
            "industry_codes": codes, "owner_org": "中试平台", "facility_type": facility_type}))
    };
    let pilot = create(facility("无人机中试线", "pilot_line", &["3963"]));
    let instrument = create(facility("无人机测试仪器", "instrument", &["3963"]));
    let off_segment_pilot = create(facility("原料药中试基地", "pilot_base", &["2710"]));
    let mut api_maker = listing("enterprise", "原料药制造企业", "110108", &["2710"], "原料药");
    if let xietong_domain::Details::Enterprise(details) = &mut api_maker.details {
        details.sites = vec![xietong_domain::Site {
            region_code: "130602".into(),
            role: xietong_domain::SiteRole::Manufacturing,
            address: None,
        }];
    }
    let api_maker = create(api_maker);
    let achievement = app
        .store()
        .list(&ListFilter { kind: Some(Kind::Achievement), ..ListFilter::default() }, 10, 0)
        .unwrap()
        .items
        .into_iter()
        .find(|l| l.body.title == "天津巡检成果")
        .unwrap();
    let bundles = app.bundles(&operator, achievement.id, &[]).unwrap();
    assert!(!bundles.is_empty());
    let complete = bundles.iter().find(|b| b.pilot.is_some() && b.manufacturer.is_some()).expect("a complete bundle");
    assert_eq!(complete.pilot.as_ref().unwrap().id, pilot);
    assert_eq!(complete.manufacturer.as_ref().unwrap().id, catalogue.multi_site);
    assert!(complete.missing_zh.is_empty());
    let chain_segments: Vec<Segment> = app.chains().unwrap().into_iter().flat_map(|r| r.chain.segments).collect();
    for bundle in &bundles {
        assert_eq!(bundle.technology.id, achievement.id);
        assert!(!bundle.technology.reasons_zh.is_empty());
        for part in [&bundle.pilot, &bundle.manufacturer].into_iter().flatten() {
            assert!(![instrument, off_segment_pilot, api_maker].contains(&part.id), "{}", part.title);
            assert!(!part.reasons_zh.is_empty() && part.reasons_zh.len() == part.reasons_en.len());
        }
        if let Some(part) = &bundle.pilot {
            let listing = app.store().get(part.id).unwrap();
            let xietong_domain::Details::Facility(details) = &listing.body.details else { panic!("not a facility") };
            assert!(matches!(details.facility_type.as_str(), "pilot_line" | "pilot_base"));
        }
        if let Some(part) = &bundle.manufacturer {
            let listing = app.store().get(part.id).unwrap();
            let xietong_domain::Details::Enterprise(details) = &listing.body.details else { panic!("not a firm") };
            assert!(details.sites.iter().any(|s| s.role == xietong_domain::SiteRole::Manufacturing));
        }
        assert!(!bundle.segments.is_empty());
        for segment_id in &bundle.segments {
            let segment = chain_segments.iter().find(|s| &s.id == segment_id).unwrap();
            for id in [
                Some(bundle.technology.id),
                bundle.pilot.as_ref().map(|p| p.id),
                bundle.manufacturer.as_ref().map(|m| m.id),
            ]
            .into_iter()
            .flatten()
            {
                assert!(placed_directly(&app.store().get(id).unwrap(), segment), "{id} on {segment_id}");
            }
        }
        assert_eq!(
            bundle.missing_zh.len(),
            usize::from(bundle.pilot.is_none()) + usize::from(bundle.manufacturer.is_none())
        );
    }
    let not_an_achievement = app.bundles(&operator, pilot, &[]);
    assert!(matches!(not_an_achievement, Err(xietong_app::AppError::BadInput { .. })));
}

#[test]
fn enclave_flows_count_derived_pairs_and_recorded_enclaves() {
    use xietong_domain::enclave::{EnclaveBody, EnclaveKind};
    let catalogue = catalogue();
    let app = &catalogue.app;
    let stats = app.enclave_stats(&Actor::operator()).unwrap();
    assert_eq!(stats.totals.get(&EnclaveKind::Manufacturing), Some(&1), "the Beijing firm making in Baoding");
    let flow = stats.flows.iter().find(|f| f.kind == EnclaveKind::Manufacturing).unwrap();
    assert_eq!((flow.home.as_str(), flow.host.as_str(), flow.sector.as_str()), ("110000", "130000", "safety"));
    assert_eq!(flow.in_recorded_enclaves, 0);
    let body = EnclaveBody {
        kind: EnclaveKind::Manufacturing,
        name: "中关村—保定制造飞地".into(),
        home_region: "110108".into(),
        host_region: "130602".into(),
        host_park: "保定·中关村创新中心".into(),
        enterprises: vec![catalogue.multi_site],
    };
    app.create_enclave(&Actor::operator(), body.clone()).unwrap();
    let anonymous = Actor::new(xietong_domain::Viewer::Anonymous, None);
    assert!(app.create_enclave(&anonymous, body.clone()).is_err());
    let not_a_firm = EnclaveBody { enterprises: vec![catalogue.explicit], ..body };
    assert!(matches!(app.create_enclave(&Actor::operator(), not_a_firm), Err(xietong_app::AppError::BadInput { .. })));
    let mut hidden = listing("enterprise", "仅本机构可见企业", "130602", &["3963"], "");
    hidden.visibility = xietong_domain::Visibility::Organisation;
    let hidden = app.create_listing(&Actor::operator(), hidden).unwrap().listing.id;
    let with_hidden = EnclaveBody {
        kind: EnclaveKind::Science,
        name: "含隐藏企业的飞地".into(),
        home_region: "130602".into(),
        host_region: "110108".into(),
        host_park: "海淀园".into(),
        enterprises: vec![hidden, catalogue.multi_site],
    };
    app.create_enclave(&Actor::operator(), with_hidden).unwrap();
    let public = app.enclave_stats(&anonymous).unwrap();
    assert_eq!(public.recorded[1].body.enterprises, [catalogue.multi_site], "an unreadable firm is not named");
    let stats = app.enclave_stats(&Actor::operator()).unwrap();
    assert_eq!(stats.recorded[1].body.enterprises.len(), 2);
    assert_eq!(stats.recorded.len(), 2);
    let flow = stats.flows.iter().find(|f| f.kind == EnclaveKind::Manufacturing).unwrap();
    assert_eq!((flow.enterprises, flow.in_recorded_enclaves), (1, 1));
}

#[test]
fn a_listings_placements_agree_with_the_counts_and_carry_their_evidence() {
    use xietong_domain::chain::Evidence;
    let catalogue = catalogue();
    let app = &catalogue.app;
    let explicit = app.listing_placements(&Actor::operator(), catalogue.explicit).unwrap();
    let on_chips = explicit.iter().find(|p| p.segment_id == "t-chips").unwrap();
    assert!(!on_chips.inferred);
    assert_eq!(on_chips.evidence, [Evidence::Explicit]);
    let filter = ListFilter { status: Some(Status::Published), ..ListFilter::default() };
    let chain = app.chain("test-chain").unwrap().chain;
    for listing in app.store().list(&filter, 1_000, 0).unwrap().items {
        let placements = app.listing_placements(&Actor::operator(), listing.id).unwrap();
        for segment in &chain.segments {
            let placed = placements.iter().any(|p| p.segment_id == segment.id);
            assert_eq!(placed, placed_directly(&listing, segment), "{} on {}", listing.body.title, segment.id);
        }
    }
    let by_text = app
        .store()
        .list(&ListFilter { kind: Some(Kind::Achievement), ..ListFilter::default() }, 10, 0)
        .unwrap()
        .items
        .into_iter()
        .find(|l| l.body.title == "天津巡检成果")
        .unwrap();
    let placements = app.listing_placements(&Actor::operator(), by_text.id).unwrap();
    let drones = placements.iter().find(|p| p.segment_id == "t-drones").unwrap();
    assert!(drones.inferred);
    assert_eq!(drones.evidence, [Evidence::Text { phrase: "巡检机器人".into() }]);
}
