//! Integration tests of the search crate: one binary, each test with its own index directory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use time::OffsetDateTime;
use xietong_domain::{
    AchievementDetails, Availability, DemandDetails, Details, EnterpriseDetails, FacilityDetails, FacilityType, Kind,
    Listing, ListingBody, ListingId, ReadScope, Site, SiteRole, Status, TalentDetails, Visibility,
};
use xietong_search::{
    Embedder, HttpEmbedder, LocalModelEmbedder, MatchRequest, MatchWeights, SearchIndex, SearchQuery, SearchSort,
    normalize,
};

fn listing(title: &str, summary: &str, regions: &[&str], industries: &[&str], details: Details) -> Listing {
    Listing {
        id: ListingId::new(),
        version: 1,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        body: ListingBody {
            title: title.to_string(),
            summary: summary.to_string(),
            description: String::new(),
            keywords: Vec::new(),
            industry_codes: industries.iter().map(|s| s.to_string()).collect(),
            disciplines: Vec::new(),
            region_codes: regions.iter().map(|s| s.to_string()).collect(),
            owner_org: None,
            contact: None,
            visibility: Visibility::Public,
            status: Status::Published,
            external_id: None,
            details,
        },
    }
}

fn achievement(title: &str, summary: &str, trl: u8) -> Listing {
    listing(
        title,
        summary,
        &["130629"],
        &["3911"],
        Details::Achievement(AchievementDetails { trl: Some(trl), price_min: Some(80.0), ..Default::default() }),
    )
}

fn text_query(text: &str) -> SearchQuery {
    SearchQuery { text: Some(text.to_string()), limit: 10, ..Default::default() }
}

fn titles(index: &SearchIndex, query: &SearchQuery) -> Vec<String> {
    index.search(query).unwrap().hits.into_iter().map(|h| h.title).collect()
}

#[test]
fn analyzer_cases_are_found_through_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let docs = vec![
        achievement("在建工程管理平台", "项目进度", 5),
        achievement("测试工具箱", "嵌入式调试", 5),
        achievement("機器視覺檢測系統", "繁體中文介紹", 6),
        achievement("ＧＮＳＳ抗干扰接收机", "Running robust receivers", 6),
    ];
    index.apply(&docs, &[], 1).unwrap();
    assert_eq!(titles(&index, &text_query("工程")), vec!["在建工程管理平台"]);
    assert_eq!(titles(&index, &text_query("工具")), vec!["测试工具箱"]);
    assert_eq!(titles(&index, &text_query("机器视觉")), vec!["機器視覺檢測系統"]);
    assert_eq!(titles(&index, &text_query("gnss")), vec!["ＧＮＳＳ抗干扰接收机"]);
    assert_eq!(titles(&index, &text_query("RUN")), vec!["ＧＮＳＳ抗干扰接收机"]);
    let hit = &index.search(&text_query("机器视觉")).unwrap().hits[0];
    assert_eq!(hit.title_html, "<mark>機器視覺</mark>檢測系統");
}

#[test]
fn filters_and_facets_include_sub_regions() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let in_rongcheng = achievement("雄安容城智能制造成果", "智能制造", 6);
    let talent = listing(
        "海淀智能制造专家",
        "智能制造",
        &["110108"],
        &["M"],
        Details::Talent(TalentDetails { availability: vec![Availability::WeekendEngineer], ..Default::default() }),
    );
    let facility = listing(
        "滨海智能制造中试基地",
        "智能制造",
        &["120116"],
        &[],
        Details::Facility(FacilityDetails { facility_type: FacilityType::PilotBase, ..Default::default() }),
    );
    index.apply(&[in_rongcheng.clone(), talent, facility], &[], 1).unwrap();

    let hebei = SearchQuery { region: Some("130000".into()), ..text_query("智能制造") };
    assert_eq!(titles(&index, &hebei), vec!["雄安容城智能制造成果"]);
    let xiongan = SearchQuery { region: Some("133100".into()), ..Default::default() };
    assert_eq!(titles(&index, &xiongan), vec!["雄安容城智能制造成果"]);
    let manufacturing = SearchQuery { industry: Some("C".into()), ..Default::default() };
    assert_eq!(titles(&index, &manufacturing), vec!["雄安容城智能制造成果"]);
    let trl = SearchQuery { trl_min: Some(6), trl_max: Some(7), ..Default::default() };
    assert_eq!(titles(&index, &trl), vec!["雄安容城智能制造成果"]);
    let weekend = SearchQuery { availability: Some(Availability::WeekendEngineer), ..Default::default() };
    assert_eq!(titles(&index, &weekend), vec!["海淀智能制造专家"]);
    let pilot = SearchQuery { facility_type: Some(FacilityType::PilotBase), ..Default::default() };
    assert_eq!(titles(&index, &pilot), vec!["滨海智能制造中试基地"]);
    let talents = SearchQuery { kind: Some(Kind::Talent), ..text_query("智能制造") };
    assert_eq!(titles(&index, &talents), vec!["海淀智能制造专家"]);

    let results = index.search(&text_query("智能制造")).unwrap();
    assert_eq!(results.total, 3);
    let count = |list: &[xietong_search::FacetCount], value: &str| {
        list.iter().find(|f| f.value == value).map(|f| f.count).unwrap_or(0)
    };
    assert_eq!(count(&results.facets.region_province, "130000"), 1);
    assert_eq!(count(&results.facets.region_province, "110000"), 1);
    assert_eq!(count(&results.facets.region_prefecture, "130600"), 1);
    assert_eq!(count(&results.facets.kind, "facility"), 1);
    assert_eq!(count(&results.facets.industry_section, "C"), 1);
    assert_eq!(count(&results.facets.trl, "6"), 1);
}

#[test]
fn browse_mode_is_newest_first_and_pages_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let mut docs: Vec<Listing> = (0..7).map(|i| achievement(&format!("成果{i}"), "同一时间", 5)).collect();
    docs[3].updated_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(10);
    index.apply(&docs, &[], 1).unwrap();
    let mut seen = Vec::new();
    for offset in (0..7).step_by(3) {
        let page = index.search(&SearchQuery { limit: 3, offset, ..Default::default() }).unwrap();
        assert_eq!(page.total, 7);
        seen.extend(page.hits.into_iter().map(|h| h.id));
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen[0], docs[3].id, "newest first");
    let mut rest: Vec<ListingId> = docs.iter().map(|d| d.id).filter(|id| *id != docs[3].id).collect();
    rest.sort();
    assert_eq!(seen[1..], rest[..], "ties broken by ascending id");
    // The same text query twice gives the same order (ties by id).
    let first = index.search(&SearchQuery { limit: 4, ..text_query("同一时间") }).unwrap();
    let second = index.search(&SearchQuery { limit: 4, ..text_query("同一时间") }).unwrap();
    let ids = |r: &xietong_search::SearchResults| r.hits.iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(&first), ids(&second));
}

#[test]
fn apply_delete_and_applied_seq_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let kept = achievement("保留的成果", "电池", 5);
    let dropped = achievement("删除的成果", "电池", 5);
    let mut draft = achievement("草稿成果", "电池", 5);
    draft.body.status = Status::Draft;
    {
        let index = SearchIndex::open(dir.path()).unwrap();
        assert_eq!(index.applied_seq(), 0);
        index.apply(&[kept.clone(), dropped.clone(), draft], &[], 7).unwrap();
        assert_eq!(index.doc_count(), 2, "drafts are not indexed");
        index.apply(&[], &[dropped.id], 9).unwrap();
        assert_eq!(index.doc_count(), 1);
    }
    let index = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(index.applied_seq(), 9);
    assert_eq!(titles(&index, &text_query("电池")), vec!["保留的成果"]);
    let mut archived = kept.clone();
    archived.body.status = Status::Archived;
    index.apply(&[archived], &[], 10).unwrap();
    assert_eq!(index.doc_count(), 0, "a non-published upsert removes the listing");
    index.clear().unwrap();
    assert_eq!(index.applied_seq(), 0);
}

#[test]
fn incompatible_directory_is_wiped_and_reports_reindex() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("meta.json"), "not an index").unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(index.applied_seq(), 0);
    assert_eq!(index.doc_count(), 0);
}

fn demand(title: &str, keywords: &[&str], desired_trl: u8, budget: f64) -> Listing {
    let mut demand = listing(
        title,
        "需要在产线上做缺陷检测",
        &["110108"],
        &["39"],
        Details::Demand(DemandDetails {
            desired_trl: Some(desired_trl),
            budget: Some(budget),
            preferred_regions: vec!["110000".into()],
            ..Default::default()
        }),
    );
    demand.body.keywords = keywords.iter().map(|k| k.to_string()).collect();
    demand
}

#[test]
fn match_reasons_are_truthful_and_mismatches_reported() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let vision = achievement("基于机器视觉的表面缺陷检测", "深度学习 缺陷检测 工业相机", 4);
    let unrelated = achievement("小麦品种鉴定", "SSR 标记", 7);
    let enterprise = listing(
        "某电子制造企业",
        "电子设备制造，缺陷检测需求",
        &["110108"],
        &["3911"],
        Details::Enterprise(EnterpriseDetails {
            sites: vec![Site { region_code: "130629".into(), role: SiteRole::Manufacturing, address: None }],
            ..Default::default()
        }),
    );
    index.apply(&[vision.clone(), unrelated, enterprise], &[], 1).unwrap();
    let source = demand("寻求机器视觉缺陷检测技术", &["机器视觉", "缺陷检测"], 6, 50.0);

    let hits = index.match_listing(&source, Some(Kind::Achievement), 5, &ReadScope::All).unwrap();
    assert_eq!(hits[0].id, vision.id);
    let top = &hits[0];
    let shared = top.reasons.iter().find(|r| r.code == "shared_terms").expect("shared terms reason");
    let terms = shared.zh.trim_start_matches("共同关键词：");
    let source_text =
        normalize(&format!("{} {} {}", source.body.title, source.body.keywords.join(" "), source.body.summary));
    let target_text = normalize(&format!("{} {}", vision.body.title, vision.body.summary));
    for term in terms.split('、') {
        assert!(source_text.contains(term) && target_text.contains(term), "{term} not in both");
    }
    assert!(terms.contains("机器视觉"));
    assert!(top.reasons.iter().any(|r| r.code == "shared_industry" && r.zh.contains("39")));
    assert!(top.mismatches.iter().any(|m| m.code == "trl_below_required" && m.en == "TRL 4 is below the required 6"));
    assert!(top.mismatches.iter().any(|m| m.code == "price_above_budget"));
    assert!(top.mismatches.iter().any(|m| m.code == "region_outside_preferred"));
    assert!(top.score_parts.contains_key("text"));
    assert!((top.score - top.score_parts.values().sum::<f64>()).abs() < 1e-9);

    // An achievement finds the enterprise whose Hebei manufacturing site is on the corridor.
    let mut beijing_vision = vision.clone();
    beijing_vision.body.region_codes = vec!["110108".into()];
    let for_achievement = index.match_listing(&beijing_vision, Some(Kind::Enterprise), 5, &ReadScope::All).unwrap();
    assert_eq!(for_achievement.len(), 1);
    assert!(
        for_achievement[0].reasons.iter().any(|r| r.code == "same_region" || r.code == "rd_manufacturing_corridor")
    );

    // An ad-hoc request with TRL that fits.
    let request = MatchRequest {
        text: "寻求缺陷检测相关技术成果".into(),
        kind: Some(Kind::Achievement),
        trl_min: Some(4),
        limit: 5,
        ..Default::default()
    };
    let hits = index.match_request(&request).unwrap();
    assert_eq!(hits[0].id, vision.id);
    assert!(hits[0].reasons.iter().any(|r| r.code == "trl_fit" && r.en == "TRL 4 ≥ required 4"));
}

#[test]
fn corridor_reason_names_the_hebei_site() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let enterprise = listing(
        "保定电池制造企业",
        "动力电池制造",
        &[],
        &[],
        Details::Enterprise(EnterpriseDetails {
            sites: vec![Site { region_code: "130600".into(), role: SiteRole::Manufacturing, address: None }],
            ..Default::default()
        }),
    );
    index.apply(&[enterprise], &[], 1).unwrap();
    let mut source = achievement("固态电池电解质", "动力电池", 6);
    source.body.region_codes = vec!["110108".into()];
    let hits = index.match_listing(&source, None, 5, &ReadScope::All).unwrap();
    assert_eq!(hits.len(), 1);
    let corridor = hits[0].reasons.iter().find(|r| r.code == "rd_manufacturing_corridor").expect("corridor reason");
    assert!(corridor.zh.contains("保定市"), "{}", corridor.zh);
}

/// A one-shot fake of an OpenAI-compatible embeddings endpoint.
fn fake_embedding_server() -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.to_ascii_lowercase().starts_with("content-length:") {
                content_length = line[15..].trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut body = vec![0u8; content_length];
        reader.read_exact(&mut body).unwrap();
        let reply = r#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.0,1.0,0.0]},{"object":"embedding","index":0,"embedding":[1.0,0.0,0.0]}],"model":"m"}"#;
        let mut stream = stream;
        write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len()).unwrap();
        format!("{head}{}", String::from_utf8(body).unwrap())
    });
    (address, handle)
}

#[test]
fn http_embedder_talks_to_an_openai_compatible_server() {
    let (address, server) = fake_embedding_server();
    let embedder = HttpEmbedder::new(&format!("{address}/v1"), "bge-small-zh", Some("secret".into()), 3);
    let vectors = embedder.embed(&["甲".to_string(), "乙".to_string()]).unwrap();
    assert_eq!(vectors, vec![vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]], "reordered by index");
    let request = server.join().unwrap();
    assert!(request.starts_with("POST /v1/embeddings"), "{request}");
    assert!(request.contains("Bearer secret"));
    assert!(request.contains("\"model\":\"bge-small-zh\""));
    assert_eq!(embedder.dim(), 3);
}

#[test]
fn local_model_embedder_fuses_into_matching() {
    let model_dir = tempfile::tempdir().unwrap();
    std::fs::write(model_dir.path().join("vectors.txt"), "3 2\n电池 1 0\n电解质 0.9 0.1\n小麦 0 1\n").unwrap();
    let embedder = Arc::new(LocalModelEmbedder::load(model_dir.path()).unwrap());
    let vectors = embedder.embed(&["固态电池".to_string(), "没有已知词".to_string()]).unwrap();
    assert!((vectors[0][0] - 1.0).abs() < 1e-6);
    assert_eq!(vectors[1], vec![0.0, 0.0]);

    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    index.set_embedder(Some(embedder));
    let battery = achievement("电池电解质", "电池", 5);
    index.apply(&[battery.clone(), achievement("小麦育种", "小麦", 5)], &[], 1).unwrap();
    let request = MatchRequest { text: "电池".into(), kind: Some(Kind::Achievement), limit: 5, ..Default::default() };
    let hits = index.match_request(&request).unwrap();
    assert_eq!(hits[0].id, battery.id);
    assert!(hits[0].score_parts["embedding"] > 0.2);
    drop(index);
    // Vectors persist in the sidecar file.
    let reopened = SearchIndex::open(dir.path()).unwrap();
    reopened.set_embedder(Some(Arc::new(LocalModelEmbedder::load(model_dir.path()).unwrap())));
    let hits = reopened.match_request(&request).unwrap();
    assert!(hits[0].score_parts.contains_key("embedding"));
}

#[test]
fn match_without_target_kind_mixes_complementary_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let mut docs: Vec<Listing> = (0..6).map(|i| achievement(&format!("机器视觉检测成果{i}"), "机器视觉", 6)).collect();
    let talent = listing(
        "机器视觉专家",
        "机器视觉算法",
        &["110108"],
        &[],
        Details::Talent(TalentDetails { availability: vec![Availability::WeekendEngineer], ..Default::default() }),
    );
    let facility = listing(
        "机器视觉检测实验室",
        "机器视觉",
        &["110108"],
        &[],
        Details::Facility(FacilityDetails { facility_type: FacilityType::Lab, ..Default::default() }),
    );
    docs.push(talent.clone());
    docs.push(facility.clone());
    index.apply(&docs, &[], 1).unwrap();
    let source = demand("寻求机器视觉技术", &["机器视觉"], 5, 100.0);
    let hits = index.match_listing(&source, None, 3, &ReadScope::All).unwrap();
    let kinds: Vec<Kind> = hits.iter().map(|h| h.kind).collect();
    assert!(
        kinds.contains(&Kind::Achievement) && kinds.contains(&Kind::Talent) && kinds.contains(&Kind::Facility),
        "{kinds:?}"
    );
    let talent_hit = hits.iter().find(|h| h.id == talent.id).unwrap();
    assert!(talent_hit.reasons.iter().any(|r| r.code == "availability" && r.zh.contains("周末工程师")));
}

// ---------------------------------------------------------------------------------------------
// Read scopes: nothing a viewer may not read reaches hits, totals, facets or rankings.

const OWNER: &str = "甲公司";

fn anonymous() -> ReadScope {
    ReadScope::anonymous()
}

fn registered_in(province: &str) -> ReadScope {
    ReadScope::Limited { registered: true, provinces: vec![province.to_string()], orgs: vec!["乙公司".to_string()] }
}

fn member_of(org: &str) -> ReadScope {
    ReadScope::Limited { registered: true, provinces: vec!["120000".to_string()], orgs: vec![org.to_string()] }
}

fn owned(mut listing: Listing, visibility: Visibility, owner: &str) -> Listing {
    listing.body.visibility = visibility;
    listing.body.owner_org = Some(owner.to_string());
    listing
}

/// One listing per visibility, all owned by 甲公司 and sharing the word 石墨烯散热膜; each of
/// another kind, so the kind facet tells them apart.
struct VisibilityFixture {
    public: Listing,
    registered: Listing,
    region_beijing: Listing,
    region_hebei: Listing,
    organisation: Listing,
}

impl VisibilityFixture {
    fn new() -> VisibilityFixture {
        let text = "石墨烯散热膜";
        VisibilityFixture {
            public: owned(achievement("石墨烯散热膜成果", text, 6), Visibility::Public, OWNER),
            registered: owned(
                listing("石墨烯散热膜专家", text, &["120116"], &[], Details::Talent(TalentDetails::default())),
                Visibility::Registered,
                OWNER,
            ),
            region_beijing: owned(
                listing("石墨烯散热膜需求", text, &["110108"], &[], Details::Demand(DemandDetails::default())),
                Visibility::Region,
                OWNER,
            ),
            // A county of Hebei: visible to viewers of the province 130000.
            region_hebei: owned(
                listing("石墨烯散热膜企业", text, &["130629"], &[], Details::Enterprise(EnterpriseDetails::default())),
                Visibility::Region,
                OWNER,
            ),
            organisation: owned(
                listing(
                    "石墨烯散热膜中试线",
                    text,
                    &["110108"],
                    &[],
                    Details::Facility(FacilityDetails { facility_type: FacilityType::PilotLine, ..Default::default() }),
                ),
                Visibility::Organisation,
                OWNER,
            ),
        }
    }

    fn all(&self) -> Vec<Listing> {
        vec![
            self.public.clone(),
            self.registered.clone(),
            self.region_beijing.clone(),
            self.region_hebei.clone(),
            self.organisation.clone(),
        ]
    }
}

fn facet_map(list: &[xietong_search::FacetCount]) -> BTreeMap<String, u64> {
    list.iter().filter(|f| f.count > 0).map(|f| (f.value.clone(), f.count)).collect()
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Name, scope, the listings it may read, expected kind facet, expected province facet.
type ScopeCase<'a> = (&'a str, Option<ReadScope>, Vec<&'a Listing>, BTreeMap<String, u64>, BTreeMap<String, u64>);

#[test]
fn search_applies_the_read_scope_to_hits_totals_and_facets() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let fx = VisibilityFixture::new();
    // An unrelated public listing of another owner: browse mode must count it, text search not.
    let other = achievement("小麦育种", "小麦", 5);
    let mut docs = fx.all();
    docs.push(other.clone());
    index.apply(&docs, &[], 1).unwrap();

    let (p, r, rb, rh, o) = (&fx.public, &fx.registered, &fx.region_beijing, &fx.region_hebei, &fx.organisation);
    let cases: Vec<ScopeCase> = vec![
        ("anonymous", Some(anonymous()), vec![p], counts(&[("achievement", 1)]), counts(&[("130000", 1)])),
        (
            "registered in Hebei",
            Some(registered_in("130000")),
            vec![p, r, rh],
            counts(&[("achievement", 1), ("talent", 1), ("enterprise", 1)]),
            counts(&[("130000", 2), ("120000", 1)]),
        ),
        (
            "registered in Beijing",
            Some(registered_in("110000")),
            vec![p, r, rb],
            counts(&[("achievement", 1), ("talent", 1), ("demand", 1)]),
            counts(&[("130000", 1), ("120000", 1), ("110000", 1)]),
        ),
        (
            "owner organisation",
            Some(member_of(OWNER)),
            vec![p, r, rb, rh, o],
            counts(&[("achievement", 1), ("talent", 1), ("demand", 1), ("enterprise", 1), ("facility", 1)]),
            counts(&[("130000", 2), ("120000", 1), ("110000", 2)]),
        ),
        (
            "all",
            Some(ReadScope::All),
            vec![p, r, rb, rh, o],
            counts(&[("achievement", 1), ("talent", 1), ("demand", 1), ("enterprise", 1), ("facility", 1)]),
            counts(&[("130000", 2), ("120000", 1), ("110000", 2)]),
        ),
        (
            "unrestricted",
            None,
            vec![p, r, rb, rh, o],
            counts(&[("achievement", 1), ("talent", 1), ("demand", 1), ("enterprise", 1), ("facility", 1)]),
            counts(&[("130000", 2), ("120000", 1), ("110000", 2)]),
        ),
    ];
    for (name, scope, visible, kinds, provinces) in cases {
        let mut expected: Vec<ListingId> = visible.iter().map(|l| l.id).collect();
        expected.sort();
        let query = SearchQuery { scope: scope.clone(), ..text_query("石墨烯散热膜") };
        let results = index.search(&query).unwrap();
        let mut ids: Vec<ListingId> = results.hits.iter().map(|h| h.id).collect();
        ids.sort();
        assert_eq!(ids, expected, "{name}: hits");
        assert_eq!(results.total, expected.len() as u64, "{name}: total");
        assert_eq!(facet_map(&results.facets.kind), kinds, "{name}: kind facet");
        assert_eq!(facet_map(&results.facets.region_province), provinces, "{name}: province facet");
        assert!(results.hits.iter().all(|h| h.summary_html.contains("<mark>")), "{name}: snippets");

        // Browse mode (no text) and a filter apply the scope too.
        let browse = index.search(&SearchQuery { scope: scope.clone(), limit: 20, ..Default::default() }).unwrap();
        assert_eq!(browse.total, expected.len() as u64 + 1, "{name}: browse total");
        assert!(browse.hits.iter().all(|h| h.id == other.id || expected.contains(&h.id)), "{name}: browse hits");
        let hebei =
            SearchQuery { scope: scope.clone(), region: Some("130000".into()), ..text_query("石墨烯散热膜") };
        let in_hebei = index.search(&hebei).unwrap();
        let want = [p.id, rh.id].iter().filter(|id| expected.contains(id)).count() as u64;
        assert_eq!(in_hebei.total, want, "{name}: Hebei filter");
    }
}

#[test]
fn scoped_search_scores_ignore_invisible_listings() {
    let fx = VisibilityFixture::new();
    let search_ids_scores = |docs: &[Listing]| {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        index.apply(docs, &[], 1).unwrap();
        let query = SearchQuery { scope: Some(registered_in("130000")), ..text_query("石墨烯散热膜") };
        index.search(&query).unwrap().hits.iter().map(|h| (h.id, h.score)).collect::<Vec<_>>()
    };
    let visible = vec![fx.public.clone(), fx.registered.clone(), fx.region_hebei.clone()];
    assert_eq!(search_ids_scores(&visible), search_ids_scores(&fx.all()));
}

/// A demand for perovskite tandem cells, and two achievements: an organisation-only one of 丙公司
/// that fits it best, and a public one that fits less.
fn perovskite_fixture() -> (Listing, Listing, Listing) {
    let source = demand("寻求钙钛矿叠层电池技术", &["钙钛矿叠层电池"], 4, 500.0);
    let secret = owned(
        achievement("钙钛矿叠层电池", "钙钛矿叠层电池 效率 钙钛矿叠层电池 稳定性", 6),
        Visibility::Organisation,
        "丙公司",
    );
    let public = owned(achievement("钙钛矿薄膜制备工艺", "钙钛矿 薄膜 电池", 6), Visibility::Public, OWNER);
    (source, secret, public)
}

#[test]
fn matching_never_returns_listings_outside_the_scope() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let (source, secret, public) = perovskite_fixture();
    index.apply(&[secret.clone(), public.clone()], &[], 1).unwrap();
    let outsider = registered_in("110000");
    let owner = member_of("丙公司");

    for kind in [Some(Kind::Achievement), None] {
        let hits = index.match_listing(&source, kind, 10, &outsider).unwrap();
        let ids: Vec<ListingId> = hits.iter().map(|h| h.id).collect();
        assert_eq!(ids, vec![public.id], "outsider, kind {kind:?}");
        let hits = index.match_listing(&source, kind, 10, &owner).unwrap();
        assert_eq!(hits[0].id, secret.id, "owner, kind {kind:?}");
        assert!(hits.iter().any(|h| h.id == public.id));
        let hits = index.match_listing(&source, kind, 10, &ReadScope::All).unwrap();
        assert_eq!(hits[0].id, secret.id, "all, kind {kind:?}");
        let hits = index.match_listing(&source, kind, 10, &anonymous()).unwrap();
        assert!(hits.iter().all(|h| h.id != secret.id), "anonymous, kind {kind:?}");
    }

    let request = |scope: Option<ReadScope>| MatchRequest {
        text: "寻求钙钛矿叠层电池技术".into(),
        keywords: vec!["钙钛矿叠层电池".into()],
        kind: Some(Kind::Achievement),
        limit: 10,
        scope,
        ..Default::default()
    };
    let ids = |scope: Option<ReadScope>| -> Vec<ListingId> {
        index.match_request(&request(scope)).unwrap().into_iter().map(|h| h.id).collect()
    };
    assert_eq!(ids(Some(outsider.clone())), vec![public.id]);
    assert_eq!(ids(Some(anonymous())), vec![public.id]);
    assert_eq!(ids(Some(owner.clone()))[0], secret.id);
    assert_eq!(ids(None)[0], secret.id, "no scope is unrestricted");
    // Explanations of the visible hit name only what the visible listing holds.
    let hits = index.match_request(&request(Some(outsider))).unwrap();
    for reason in &hits[0].reasons {
        assert!(!reason.zh.contains("钙钛矿叠层电池"), "{}", reason.zh);
    }
}

#[test]
fn invisible_listings_do_not_move_the_ranking_of_visible_ones() {
    // Visible achievements of several disciplines; the invisible one is the best match of the
    // demand and of the discipline 化学, so an unscoped feedback stage would vote for 化学 and
    // lift that discipline; it also holds the key phrase, whose idf would change, and shifts the
    // BM25 statistics.
    let with_discipline = |mut listing: Listing, discipline: &str, visibility: Visibility, owner: &str| {
        listing.body.disciplines = vec![discipline.to_string()];
        owned(listing, visibility, owner)
    };
    let visible = vec![
        with_discipline(
            achievement("钙钛矿电池封装材料", "钙钛矿 电池 封装", 6),
            "材料科学",
            Visibility::Public,
            OWNER,
        ),
        with_discipline(
            achievement("钙钛矿光伏组件", "钙钛矿 光伏 组件 电池", 6),
            "电气工程",
            Visibility::Public,
            OWNER,
        ),
        with_discipline(
            achievement("叠层电池界面钝化", "用于钙钛矿叠层电池的界面钝化", 6),
            "化学",
            Visibility::Registered,
            OWNER,
        ),
        with_discipline(achievement("锂电池回收", "电池 回收", 6), "环境科学", Visibility::Public, OWNER),
        with_discipline(achievement("石墨烯散热膜", "散热", 6), "材料科学", Visibility::Public, OWNER),
    ];
    let invisible = with_discipline(
        achievement("钙钛矿叠层电池", "钙钛矿叠层电池 钙钛矿 叠层 电池 效率", 6),
        "化学",
        Visibility::Organisation,
        "丙公司",
    );
    let source = demand("寻求钙钛矿叠层电池技术", &["钙钛矿叠层电池"], 4, 500.0);
    let outsider = registered_in("110000");

    let open = |docs: &[Listing]| {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        index.apply(docs, &[], 1).unwrap();
        (dir, index)
    };
    let (_dir_a, without) = open(&visible);
    let mut all = visible.clone();
    all.push(invisible.clone());
    let (_dir_b, with) = open(&all);

    let ranked = |index: &SearchIndex, scope: &ReadScope| -> Vec<(ListingId, f64, BTreeMap<String, f64>)> {
        index
            .match_listing(&source, Some(Kind::Achievement), 10, scope)
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.score, h.score_parts))
            .collect()
    };
    let expected = ranked(&without, &outsider);
    assert!(expected.len() >= 4, "{expected:?}");
    assert_eq!(ranked(&with, &outsider), expected);

    let request = MatchRequest {
        text: "寻求钙钛矿叠层电池技术".into(),
        keywords: vec!["钙钛矿叠层电池".into()],
        kind: Some(Kind::Achievement),
        limit: 10,
        scope: Some(outsider.clone()),
        ..Default::default()
    };
    let requested = |index: &SearchIndex| -> Vec<(ListingId, f64)> {
        index.match_request(&request).unwrap().into_iter().map(|h| (h.id, h.score)).collect()
    };
    assert_eq!(requested(&with), requested(&without));
    // Query expansion from the best matches (off by default) reads only readable ones too.
    let expanding = MatchWeights { expansion_terms: 5, ..MatchWeights::default() };
    let expanded = |index: &SearchIndex| -> Vec<(ListingId, f64)> {
        index.match_request_weighted(&request, &expanding).unwrap().into_iter().map(|h| (h.id, h.score)).collect()
    };
    assert_eq!(expanded(&with), expanded(&without));

    // The check has teeth: unrestricted, the invisible listing leads and its discipline's vote
    // changes the scores of the visible ones.
    let unrestricted = ranked(&with, &ReadScope::All);
    assert_eq!(unrestricted[0].0, invisible.id);
    let visible_part: Vec<(ListingId, f64)> =
        unrestricted.iter().filter(|h| h.0 != invisible.id).map(|h| (h.0, h.1)).collect();
    let scoped: Vec<(ListingId, f64)> = expected.iter().map(|h| (h.0, h.1)).collect();
    assert_ne!(visible_part, scoped);
}

fn with_discipline(mut listing: Listing, discipline: &str) -> Listing {
    listing.body.disciplines = vec![discipline.to_string()];
    listing
}

/// Issue 13: a listing posted without a discipline gets one inferred from its labelled
/// neighbours, competes with it in the discipline feedback, and the explanation says so.
#[test]
fn a_listing_without_discipline_competes_with_an_inferred_one() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let materials = "材料科学与工程";
    let computing = "计算机科学与技术";
    let mut docs = vec![
        with_discipline(achievement("锂电池正极材料的高温固相合成", "正极材料烧结工艺与电化学性能", 5), materials),
        with_discipline(achievement("高镍三元正极材料的表面包覆", "包覆层抑制正极材料与电解液副反应", 5), materials),
        with_discipline(achievement("磷酸铁锂正极材料的碳包覆", "碳包覆提高正极材料导电性", 5), materials),
        with_discipline(achievement("硅碳负极材料的制备", "负极材料循环稳定性", 5), materials),
        with_discipline(achievement("图像识别的卷积神经网络", "深度学习图像分类与目标检测", 5), computing),
        with_discipline(achievement("目标检测的轻量化网络", "卷积神经网络剪枝与量化", 5), computing),
        with_discipline(achievement("锂电池管理系统软件", "电池状态估计的嵌入式软件", 5), computing),
    ];
    let unlabeled = achievement("富锂锰基正极材料的包覆改性", "包覆改性提升正极材料的循环性能与倍率性能", 5);
    docs.push(unlabeled.clone());
    index.apply(&docs, &[], 1).unwrap();

    let request = MatchRequest {
        text: "寻求锂电池正极材料包覆相关技术成果".to_string(),
        kind: Some(Kind::Achievement),
        limit: 10,
        ..Default::default()
    };
    let hits = index.match_request(&request).unwrap();
    let position = hits.iter().position(|h| h.id == unlabeled.id).expect("the unlabeled listing is matched");
    let hit = &hits[position];
    assert!(hit.score_parts["discipline"] > 0.0, "{:?}", hit.score_parts);
    let reason = hit.reasons.iter().find(|r| r.code == "inferred_discipline").expect("an inferred-field reason");
    assert!(reason.zh.starts_with(&format!("推断学科：{materials}")), "{}", reason.zh);
    assert!(reason.en.starts_with(&format!("Inferred field: {materials}")), "{}", reason.en);
    assert!(hit.listing.body.disciplines.is_empty(), "the inferred value is not written as an explicit label");
    // It ranks with the labelled listings of its field, ahead of every listing of another field.
    assert!(position < 4, "ranked {position}: {:?}", hits.iter().map(|h| &h.title).collect::<Vec<_>>());
    // Labelled listings keep their explicit discipline and are never explained as inferred.
    for other in hits.iter().filter(|h| h.id != unlabeled.id) {
        assert!(other.reasons.iter().all(|r| r.code != "inferred_discipline"), "{}", other.title);
    }
    // The parts still add up to the score.
    let sum: f64 = hit.score_parts.values().sum();
    assert!((sum - hit.score).abs() < 1e-9);
}

/// An unlabeled listing with the same text as a labelled one ranks close to it, not far below.
#[test]
fn a_missing_discipline_costs_little_against_the_same_text_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let field = "电气工程";
    let mut docs: Vec<Listing> = (0..6)
        .map(|i| {
            with_discipline(
                achievement(&format!("配电网故障定位方法{i}"), &format!("配电网单相接地故障的行波定位{i}"), 5),
                field,
            )
        })
        .collect();
    let labelled =
        with_discipline(achievement("配电网故障自愈控制", "配电网故障隔离与供电恢复的自愈控制策略", 5), field);
    let unlabeled = achievement("配电网故障自愈控制", "配电网故障隔离与供电恢复的自愈控制策略", 5);
    docs.push(labelled.clone());
    docs.push(unlabeled.clone());
    index.apply(&docs, &[], 1).unwrap();
    let request = MatchRequest {
        text: "寻求配电网故障自愈相关技术成果".to_string(),
        kind: Some(Kind::Achievement),
        limit: 10,
        ..Default::default()
    };
    let hits = index.match_request(&request).unwrap();
    let score_of = |id: ListingId| hits.iter().find(|h| h.id == id).map(|h| h.score).expect("matched");
    let (labelled_score, unlabeled_score) = (score_of(labelled.id), score_of(unlabeled.id));
    assert!(unlabeled_score > 0.75 * labelled_score, "{unlabeled_score} vs {labelled_score}");
    let rank = hits.iter().position(|h| h.id == unlabeled.id).unwrap();
    assert!(rank <= 1, "the unlabeled twin ranks right behind the labelled one, at {rank}");
}

/// Issue 13 item 5: a search counts only listings holding the phrase or all of its words, and
/// the whole phrase ranks first; a word found nowhere falls back to the plain term match.
#[test]
fn search_requires_whole_words_and_ranks_the_phrase_first() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let talent = listing(
        "视觉传达设计师",
        "品牌视觉与包装设计",
        &["110108"],
        &[],
        Details::Talent(TalentDetails { availability: vec![Availability::FullTime], ..Default::default() }),
    );
    let docs = vec![
        achievement("焊缝质量检测系统", "基于机器视觉的焊缝缺陷在线识别", 6),
        achievement("工业机器人上下料", "机器人配备三维视觉相机完成抓取", 6),
        talent,
        achievement("数控机床维修", "机器故障诊断与保养", 6),
    ];
    index.apply(&docs, &[], 1).unwrap();
    let results = index.search(&text_query("机器视觉")).unwrap();
    let found: Vec<&str> = results.hits.iter().map(|h| h.title.as_str()).collect();
    assert_eq!(results.total, 2, "only the phrase or both words: {found:?}");
    assert_eq!(found, vec!["焊缝质量检测系统", "工业机器人上下料"]);
    // An unknown extra word does not empty the result: the fallback tier answers.
    let fallback = index.search(&text_query("机器视觉 量子纠缠")).unwrap();
    assert!(fallback.total >= 2, "{}", fallback.total);
}

/// Issue 13 item 6: shared terms are the longest phrases both listings contain as whole words,
/// and a bigram across a word boundary of the target (测试 in 检测试剂盒) is not one.
#[test]
fn shared_terms_are_whole_phrases_of_both_texts() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let vision = achievement("焊缝缺陷识别系统", "采用机器视觉对焊缝缺陷进行在线识别", 6);
    let kit = achievement("新冠病毒检测试剂盒", "快速抗原检测试剂盒，十五分钟出结果", 6);
    index.apply(&[vision.clone(), kit.clone()], &[], 1).unwrap();

    let demand = listing(
        "产线机器视觉检测",
        "需要机器视觉在线识别产品缺陷",
        &["110108"],
        &[],
        Details::Demand(DemandDetails::default()),
    );
    let hits = index.match_listing(&demand, Some(Kind::Achievement), 10, &ReadScope::All).unwrap();
    let shared = |id: ListingId| -> String {
        hits.iter()
            .find(|h| h.id == id)
            .and_then(|h| h.reasons.iter().find(|r| r.code == "shared_terms"))
            .map(|r| r.zh.clone())
            .unwrap_or_default()
    };
    let vision_terms = shared(vision.id);
    let terms: Vec<&str> = vision_terms.trim_start_matches("共同关键词：").split('、').collect();
    assert!(terms.contains(&"机器视觉"), "{vision_terms}");
    assert!(!terms.contains(&"机器") && !terms.contains(&"视觉"), "{vision_terms}");

    let test_demand =
        listing("软件测试", "嵌入式软件测试服务", &["110108"], &[], Details::Demand(DemandDetails::default()));
    let hits = index.match_listing(&test_demand, Some(Kind::Achievement), 10, &ReadScope::All).unwrap();
    for hit in &hits {
        for reason in hit.reasons.iter().filter(|r| r.code == "shared_terms") {
            assert!(!reason.zh.contains("测试"), "{} on {}", reason.zh, hit.title);
        }
    }
}

/// Issue 13 item 5: search orders by relevance, newest, TRL or price; listings without the value
/// come last.
#[test]
fn search_sorts_by_newest_trl_and_price() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let priced = |title: &str, trl: u8, price: Option<f64>, day: i64| {
        let mut listing = listing(
            title,
            "氢燃料电池电堆",
            &["110108"],
            &[],
            Details::Achievement(AchievementDetails { trl: Some(trl), price_min: price, ..Default::default() }),
        );
        listing.updated_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(day);
        listing
    };
    let docs = vec![
        priced("氢燃料电池甲", 4, Some(300.0), 3),
        priced("氢燃料电池乙", 8, Some(50.0), 1),
        priced("氢燃料电池丙", 6, None, 2),
    ];
    index.apply(&docs, &[], 1).unwrap();
    let sorted = |sort: SearchSort| titles(&index, &SearchQuery { sort, ..text_query("氢燃料电池") });
    assert_eq!(sorted(SearchSort::Newest), vec!["氢燃料电池甲", "氢燃料电池丙", "氢燃料电池乙"]);
    assert_eq!(sorted(SearchSort::Trl), vec!["氢燃料电池乙", "氢燃料电池丙", "氢燃料电池甲"]);
    assert_eq!(sorted(SearchSort::Price), vec!["氢燃料电池乙", "氢燃料电池甲", "氢燃料电池丙"]);
    assert_eq!(sorted(SearchSort::Relevance).len(), 3);
    assert_eq!("price".parse::<SearchSort>(), Ok(SearchSort::Price));
    assert!("cheapest".parse::<SearchSort>().is_err());
}

// ---------------------------------------------------------------------------------------------
// Bounded candidates (issue 14): a large index is ranked on a candidate set; the ranking on it
// must equal the full ranking at its head, with the same scores.

/// `count` achievements built from a small vocabulary, deterministic, so that words repeat
/// across many listings as in a real catalogue.
fn vocabulary_catalogue(count: usize) -> Vec<Listing> {
    const TOPICS: [&str; 12] = [
        "机器视觉",
        "锂电池",
        "缺陷检测",
        "无人机",
        "遥感",
        "工业机器人",
        "焊接",
        "大模型",
        "创新药",
        "激光雷达",
        "储能",
        "氢能",
    ];
    const NOUNS: [&str; 8] = ["系统", "平台", "装备", "算法", "材料", "工艺", "传感器", "控制器"];
    const VERBS: [&str; 6] = ["在线", "智能", "高精度", "低成本", "柔性", "分布式"];
    let mut state: u64 = 0x5eed;
    let mut next = |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n
    };
    (0..count)
        .map(|i| {
            let title = format!("{}{}{}{}", VERBS[next(6)], TOPICS[next(12)], TOPICS[next(12)], NOUNS[next(8)]);
            let summary = format!(
                "面向{}的{}{}，用于{}与{}，编号{i}",
                TOPICS[next(12)],
                VERBS[next(6)],
                NOUNS[next(8)],
                TOPICS[next(12)],
                TOPICS[next(12)]
            );
            achievement(&title, &summary, 3 + (i % 6) as u8)
        })
        .collect()
}

#[test]
fn bounded_candidates_rank_the_head_exactly_as_the_whole_index() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let docs = vocabulary_catalogue(1_500);
    index.apply(&docs, &[], 1).unwrap();
    let texts =
        ["锂电池极片缺陷检测需要机器视觉方案", "无人机激光雷达遥感平台", "储能与氢能材料工艺", "智能焊接工业机器人"];
    for text in texts {
        let request =
            MatchRequest { text: text.to_string(), kind: Some(Kind::Achievement), limit: 10, ..Default::default() };
        let whole =
            index.match_request_weighted(&request, &MatchWeights { candidates: 0, ..Default::default() }).unwrap();
        // 50 candidates out of 1,500 listings: the restriction is on (more than 4 × 50 listings).
        let bounded =
            index.match_request_weighted(&request, &MatchWeights { candidates: 50, ..Default::default() }).unwrap();
        assert_eq!(whole.len(), 10, "{text}");
        let ids = |hits: &[xietong_search::MatchHit]| hits.iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(ids(&bounded), ids(&whole), "{text}");
        for (b, w) in bounded.iter().zip(&whole) {
            assert!((b.score - w.score).abs() < 1e-6, "{text}: {} vs {}", b.score, w.score);
        }
    }
    // Words that match no listing gather no candidates: the ranking must then stay unrestricted,
    // so the requested industry still finds listings.
    let request = MatchRequest {
        text: "量子纠缠光钟".to_string(),
        kind: Some(Kind::Achievement),
        industry_codes: vec!["3911".to_string()],
        limit: 10,
        ..Default::default()
    };
    let whole = index.match_request_weighted(&request, &MatchWeights { candidates: 0, ..Default::default() }).unwrap();
    let bounded =
        index.match_request_weighted(&request, &MatchWeights { candidates: 50, ..Default::default() }).unwrap();
    assert_eq!(whole.len(), 10, "the requested industry matches every listing");
    let ids = |hits: &[xietong_search::MatchHit]| hits.iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(&bounded), ids(&whole));
}

#[test]
fn cached_scope_statistics_follow_every_change_of_the_index() {
    // Scores under a scope come from statistics kept per index generation: after a write, the
    // same search must score exactly as on a fresh index holding the same listings.
    let fx = VisibilityFixture::new();
    let query = SearchQuery { scope: Some(registered_in("130000")), ..text_query("石墨烯散热膜") };
    let ids_scores =
        |index: &SearchIndex| index.search(&query).unwrap().hits.iter().map(|h| (h.id, h.score)).collect::<Vec<_>>();
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    index.apply(std::slice::from_ref(&fx.public), &[], 1).unwrap();
    let first = ids_scores(&index);
    assert_eq!(ids_scores(&index), first, "a repeated search reads the kept statistics");
    index.apply(&[fx.registered.clone(), fx.region_hebei.clone()], &[], 2).unwrap();
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = SearchIndex::open(fresh_dir.path()).unwrap();
    fresh.apply(&[fx.public.clone(), fx.registered.clone(), fx.region_hebei.clone()], &[], 1).unwrap();
    let after = ids_scores(&index);
    assert_eq!(after.len(), 3);
    assert_ne!(after, first);
    let by_id = |hits: Vec<(ListingId, f32)>| hits.into_iter().collect::<BTreeMap<_, _>>();
    let (after, fresh) = (by_id(after), by_id(ids_scores(&fresh)));
    assert_eq!(after.keys().collect::<Vec<_>>(), fresh.keys().collect::<Vec<_>>());
    for (id, score) in &after {
        assert!((score - fresh[id]).abs() < 1e-5, "{id}: {score} vs {}", fresh[id]);
    }
}
