//! Integration tests of the search crate: one binary, each test with its own index directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use time::OffsetDateTime;
use xietong_domain::{
    AchievementDetails, Availability, DemandDetails, Details, EnterpriseDetails, FacilityDetails, FacilityType, Kind,
    Listing, ListingBody, ListingId, Site, SiteRole, Status, TalentDetails, Visibility,
};
use xietong_search::{Embedder, HttpEmbedder, LocalModelEmbedder, MatchRequest, SearchIndex, SearchQuery, normalize};

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
fn visibility_hook_filters_by_visibility_or_owner() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let public = achievement("公开成果", "传感器", 5);
    let mut private = achievement("内部成果", "传感器", 5);
    private.body.visibility = Visibility::Organisation;
    private.body.owner_org = Some("org-a".into());
    index.apply(&[public, private], &[], 1).unwrap();
    let anonymous = SearchQuery { visibility_in: Some(vec![Visibility::Public]), ..text_query("传感器") };
    assert_eq!(titles(&index, &anonymous), vec!["公开成果"]);
    let member = SearchQuery { owner_org_in: Some(vec!["org-a".into()]), ..anonymous };
    assert_eq!(index.search(&member).unwrap().total, 2);
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

    let hits = index.match_listing(&source, Some(Kind::Achievement), 5).unwrap();
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
    let for_achievement = index.match_listing(&beijing_vision, Some(Kind::Enterprise), 5).unwrap();
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
    let hits = index.match_listing(&source, None, 5).unwrap();
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
    let hits = index.match_listing(&source, None, 3).unwrap();
    let kinds: Vec<Kind> = hits.iter().map(|h| h.kind).collect();
    assert!(
        kinds.contains(&Kind::Achievement) && kinds.contains(&Kind::Talent) && kinds.contains(&Kind::Facility),
        "{kinds:?}"
    );
    let talent_hit = hits.iter().find(|h| h.id == talent.id).unwrap();
    assert!(talent_hit.reasons.iter().any(|r| r.code == "availability" && r.zh.contains("周末工程师")));
}
