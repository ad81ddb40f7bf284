//! Feedback closes the loop (issue 15): the events each viewer may send to a deal (API and
//! page), decline reasons and impressions fed back to the owner, pairs declined as not relevant
//! left out of matching, stale listings flagged and ranked lower, and the conversion funnel
//! equal to a direct count from the store for every read scope.

use std::collections::BTreeMap;

use crate::fixture::{AGENCY, Fixture, ORG_A, ORG_B, ORG_C, TALENT_ORG, Vis, Who};
use serde_json::{Value, json};
use time::OffsetDateTime;
use xietong_domain::deal::{DealEvent, DealState, Side};
use xietong_domain::{ListingId, Role, Visibility};
use xietong_store::{DealChange, DealFilter, ImpressionCount, NewDeal};

/// An OrgA achievement about solid-state battery electrolyte films at `visibility`.
fn battery(fx: &Fixture, title: &str, visibility: &str, owner: &str) -> ListingId {
    fx.store_listing(json!({
        "kind": "achievement", "title": title, "summary": "固态电池用硫化物电解质薄膜，可中试放大。",
        "keywords": ["固态电池", "电解质薄膜"], "trl": 6, "region_codes": ["110106"], "industry_codes": ["C"],
        "owner_org": owner, "visibility": visibility, "status": "published",
    }))
    .id
}

async fn propose(fx: &Fixture, who: Who, listing: ListingId) -> i64 {
    let reply = fx.call(who, "POST", "/api/v1/deals", Some(json!({"listing_id": listing, "message": "合作"}))).await;
    assert_eq!(reply.status, 201, "{who:?} proposes: {}", reply.text);
    reply.json()["id"].as_i64().expect("deal id")
}

async fn send(fx: &Fixture, who: Who, deal: i64, body: Value) -> Value {
    let reply = fx.call(who, "POST", &format!("/api/v1/deals/{deal}/events"), Some(body.clone())).await;
    assert_eq!(reply.status, 200, "{who:?} sends {body}: {}", reply.text);
    reply.json()
}

async fn decline(fx: &Fixture, deal: i64, reason: &str, note: &str) {
    send(fx, Who::AMember, deal, json!({"type": "decline", "version": 1, "reason": reason, "note": note})).await;
}

/// The events the deal page offers `who` as forms.
fn page_events(html: &str) -> Vec<String> {
    html.split(r#"class="deal-event" data-event=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_string())
        .collect()
}

async fn match_ids(fx: &Fixture, who: Who) -> Vec<Value> {
    let reply = fx
        .call(
            who,
            "POST",
            "/api/v1/match",
            Some(json!({"text": "固态电池 电解质薄膜", "kind": "achievement", "limit": 50})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().expect("items").clone()
}

fn ids_of(items: &[Value]) -> Vec<String> {
    items.iter().map(|item| item["id"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn every_viewer_sees_exactly_the_events_they_may_send() {
    let fx = Fixture::new();
    let listing = battery(&fx, "固态电池电解质薄膜", "public", ORG_A);
    fx.sync();
    let deal = propose(&fx, Who::BMember, listing).await;
    // A technology manager of another agency brokers for the asker.
    let (broker, broker_token) = fx.add_user("broker_b", Role::TechManager, Some(AGENCY));
    send(&fx, Who::BMember, deal, json!({"type": "appoint_broker", "version": 1, "username": broker.username})).await;
    let tokens: BTreeMap<&str, String> = [("broker", broker_token)].into_iter().collect();

    let api_events = |reply: &crate::fixture::Reply| -> Vec<String> {
        reply.json()["allowed_events"].as_array().expect("allowed_events").iter().map(|e| e.to_string()).collect()
    };
    let names = |list: &[&str]| list.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>();
    let proposed_owner = ["accept", "decline", "close", "appoint_broker"];
    let proposed_asker = ["close", "appoint_broker"];
    for (who, expected) in [
        (Who::AMember, names(&proposed_owner)),
        (Who::Tm, names(&proposed_owner)),
        (Who::BMember, names(&proposed_asker)),
        (Who::Admin, Vec::new()),
        (Who::RegionOp, Vec::new()),
    ] {
        let reply = fx.get(who, &format!("/api/v1/deals/{deal}")).await;
        assert_eq!(reply.status, 200, "{who:?}: {}", reply.text);
        assert_eq!(api_events(&reply), expected, "{who:?} through the API");
        let page = fx.get(who, &format!("/deals/{deal}")).await;
        assert_eq!(page.status, 200, "{who:?}: {}", page.text);
        let expected: Vec<String> = expected.iter().map(|n| n.trim_matches('"').to_string()).collect();
        assert_eq!(page_events(&page.text), expected, "{who:?} on the page");
    }
    // The broker acts for the asker.
    let reply = fx.send(crate::fixture::with_bearer(
        crate::fixture::json_request("GET", &format!("/api/v1/deals/{deal}"), None),
        Some(&tokens["broker"]),
    ));
    let reply = reply.await;
    assert_eq!(api_events(&reply), names(&proposed_asker), "the asker's broker: {}", reply.text);
    let page = fx
        .send(crate::fixture::with_bearer(
            crate::fixture::json_request("GET", &format!("/deals/{deal}"), None),
            Some(&tokens["broker"]),
        ))
        .await;
    assert_eq!(page_events(&page.text), ["close", "appoint_broker"], "the broker's page");
    // A third organisation and anonymous see nothing.
    assert_eq!(fx.get(Who::CMember, &format!("/api/v1/deals/{deal}")).await.status, 404);
    assert_eq!(fx.get(Who::CMember, &format!("/deals/{deal}")).await.status, 404);
    assert_eq!(fx.get(Who::Anonymous, &format!("/api/v1/deals/{deal}")).await.status, 401);
    let anonymous_page = fx.get(Who::Anonymous, &format!("/deals/{deal}")).await;
    assert_eq!(anonymous_page.status, 303, "to the login");
    assert!(page_events(&anonymous_page.text).is_empty());

    // After acceptance the forms follow the state: meeting and sign for both sides.
    let accepted = send(&fx, Who::AMember, deal, json!({"type": "accept", "version": 2})).await;
    let accepted_events: Vec<&str> =
        accepted["allowed_events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(accepted_events, ["meeting", "sign", "close", "appoint_broker"]);
    let page = fx.get(Who::BMember, &format!("/deals/{deal}")).await;
    assert_eq!(page_events(&page.text), ["meeting", "sign", "close", "appoint_broker"]);
    for field in [r#"name="at""#, r#"name="place""#, r#"name="agreement_type""#, r#"name="signed_on""#] {
        assert!(page.text.contains(field), "the page has {field}");
    }
    assert!(!page.text.contains(r#"name="stage""#), "no outcome form before signing");
    // A finished deal offers nothing.
    send(&fx, Who::BMember, deal, json!({"type": "close", "version": 3, "reason": "暂停"})).await;
    let closed = fx.get(Who::AMember, &format!("/api/v1/deals/{deal}")).await;
    assert!(api_events(&closed).is_empty());
    assert!(page_events(&fx.get(Who::AMember, &format!("/deals/{deal}")).await.text).is_empty());
    // Lists carry the field too.
    let listed = fx.get(Who::AMember, "/api/v1/deals").await.json();
    assert!(listed[0]["allowed_events"].is_array(), "{listed}");
}

#[tokio::test]
async fn owners_learn_why_others_said_no_and_not_relevant_pairs_are_not_suggested_again() {
    let fx = Fixture::new();
    let declined = battery(&fx, "固态电池电解质薄膜 甲", "public", ORG_A);
    let priced = battery(&fx, "固态电池电解质薄膜 乙", "public", ORG_A);
    fx.sync();
    let before = match_ids(&fx, Who::BMember).await;
    assert!(ids_of(&before).contains(&declined.to_string()), "B is suggested the listing at first");

    let by_b = propose(&fx, Who::BMember, declined).await;
    decline(&fx, by_b, "not_relevant", "方向不同").await;
    let by_c = propose(&fx, Who::CMember, declined).await;
    decline(&fx, by_c, "trl_too_low", "需要 TRL 8").await;
    let by_talent = propose(&fx, Who::Talent, declined).await;
    decline(&fx, by_talent, "trl_too_low", "").await;
    let open = propose(&fx, Who::BMember, priced).await;
    decline(&fx, open, "price", "太贵").await;

    // B's organisation is no longer suggested the pair it was told is not relevant; a price
    // decline leaves the other listing in; other organisations still see both.
    let b_ids = ids_of(&match_ids(&fx, Who::BMember).await);
    assert!(!b_ids.contains(&declined.to_string()), "{b_ids:?}");
    assert!(b_ids.contains(&priced.to_string()), "{b_ids:?}");
    let c_ids = ids_of(&match_ids(&fx, Who::CMember).await);
    assert!(c_ids.contains(&declined.to_string()) && c_ids.contains(&priced.to_string()), "{c_ids:?}");
    let from_listing =
        fx.get(Who::BMember, &format!("/api/v1/listings/{}/matches?kind=achievement", fx.listings[&Vis::Public])).await;
    assert_eq!(from_listing.status, 200, "{}", from_listing.text);
    assert!(!from_listing.text.contains(&declined.to_string()), "nor from a listing's matches");

    let url = format!("/api/v1/listings/{declined}/feedback");
    let feedback = fx.get(Who::AMember, &url).await;
    assert_eq!(feedback.status, 200, "{}", feedback.text);
    let feedback = feedback.json();
    assert_eq!(feedback["decline_reasons"]["trl_too_low"], 2, "{feedback}");
    assert_eq!(feedback["decline_reasons"]["not_relevant"], 1);
    assert_eq!(feedback["decline_reasons"]["price"], 0, "the other listing's decline is not counted here");
    assert_eq!(feedback["deals_by_state"]["declined"], 3);
    assert_eq!(feedback["deals_by_state"]["proposed"], 0);
    // Shown to B once before the decline and to C once after (both flushed before reading).
    assert_eq!(feedback["impressions"], 2, "{feedback}");
    assert_eq!(feedback["impressions_30d"], 2);
    let stored: u64 =
        fx.app.feedback_store().impressions(Some(declined), None).unwrap().iter().map(|count| count.count).sum();
    assert_eq!(stored, 2, "the counts are in the store");
    for (who, status) in [
        (Who::Tm, 200),
        (Who::Admin, 200),
        (Who::BMember, 403),
        (Who::CMember, 403),
        (Who::Talent, 403),
        (Who::Anonymous, 401),
    ] {
        assert_eq!(fx.get(who, &url).await.status, status, "{who:?}");
    }

    let page = fx.get(Who::AMember, &format!("/listings/{declined}")).await;
    assert!(page.text.contains("对方为何拒绝"), "the owner's page explains");
    assert!(page.text.contains(r#"data-reason="trl_too_low">技术成熟度不足：<strong>2</strong>"#), "{}", page.text);
    assert!(page.text.contains("需要 TRL 8"));
    let other = fx.get(Who::BMember, &format!("/listings/{declined}")).await;
    assert_eq!(other.status, 200);
    assert!(!other.text.contains("listing-feedback"), "only the owner sees the feedback block");
}

#[tokio::test]
async fn stale_listings_are_flagged_rank_lower_and_are_reminded_once_per_period() {
    let fx = Fixture::new();
    let fresh = battery(&fx, "固态电池电解质薄膜 新", "public", ORG_A);
    let stale = battery(&fx, "固态电池电解质薄膜 旧", "public", ORG_A);
    let unowned = battery(&fx, "固态电池电解质薄膜 无主", "public", "NobodysOrg");
    let long_ago = OffsetDateTime::now_utc() - time::Duration::days(200);
    fx.backdate(stale, long_ago);
    fx.backdate(unowned, long_ago);
    fx.sync();

    let listing = fx.get(Who::Anonymous, &format!("/api/v1/listings/{stale}")).await.json();
    assert_eq!(listing["stale"], true, "{listing}");
    assert_eq!(fx.get(Who::Anonymous, &format!("/api/v1/listings/{fresh}")).await.json()["stale"], false);
    let listed = fx.get(Who::Anonymous, "/api/v1/listings?kind=achievement").await.json();
    let flags: BTreeMap<String, bool> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["id"].as_str().unwrap().to_string(), item["stale"].as_bool().unwrap()))
        .collect();
    assert_eq!((flags[&stale.to_string()], flags[&fresh.to_string()]), (true, false));
    let searched = fx.get(Who::Anonymous, "/api/v1/search?q=%E5%9B%BA%E6%80%81%E7%94%B5%E6%B1%A0").await.json();
    let stale_hit = searched["items"].as_array().unwrap().iter().find(|i| i["id"] == stale.to_string()).cloned();
    assert_eq!(stale_hit.expect("the stale listing is found")["stale"], true);

    // Same text, so the only difference is the age: the stale one ranks after the fresh one,
    // its score is 0.75 of what it was (the `stale` part takes a quarter away), and it says why.
    let items = match_ids(&fx, Who::CMember).await;
    let position = |id: ListingId| items.iter().position(|i| i["id"] == id.to_string()).expect("matched");
    assert!(position(fresh) < position(stale), "{items:?}");
    let (fresh_hit, stale_hit) = (&items[position(fresh)], &items[position(stale)]);
    assert_eq!(stale_hit["stale"], true);
    assert_eq!(fresh_hit["stale"], false);
    let score = stale_hit["score"].as_f64().unwrap();
    let penalty = stale_hit["score_parts"]["stale"].as_f64().expect("a stale score part");
    assert!((penalty + (score / 0.75) * 0.25).abs() < 1e-6, "score {score}, stale part {penalty}");
    assert!(fresh_hit["score_parts"].get("stale").is_none());
    let parts: f64 = stale_hit["score_parts"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
    assert!((parts - stale_hit["score"].as_f64().unwrap()).abs() < 1e-6, "the parts still add up: {stale_hit}");
    let mismatch = stale_hit["mismatch_details"].as_array().unwrap().iter().find(|m| m["code"] == "stale").cloned();
    let mismatch = mismatch.expect("a stale mismatch");
    assert_eq!(mismatch["zh"], "超过180天未更新");
    assert_eq!(mismatch["en"], "not updated for 180 days");
    assert!(stale_hit["mismatches"].as_array().unwrap().iter().any(|m| m == "超过180天未更新"));

    let page = fx.get(Who::Anonymous, &format!("/listings/{stale}")).await;
    assert!(page.text.contains(r#"id="listing-stale""#) && page.text.contains("180天未更新"), "the page says so");
    assert!(!fx.get(Who::Anonymous, &format!("/listings/{fresh}")).await.text.contains(r#"id="listing-stale""#));

    // Reminders: the stale listing of a registered organisation, once per period.
    let now = OffsetDateTime::now_utc();
    let org_a = fx.orgs[ORG_A].id;
    assert_eq!(fx.app.send_stale_reminders(now).unwrap(), 1);
    let inbox = fx.get(Who::AMember, "/api/v1/inbox").await.json();
    let reminders: Vec<&Value> =
        inbox["items"].as_array().unwrap().iter().filter(|i| i["event"] == "listing.stale").collect();
    assert_eq!(reminders.len(), 1, "{inbox}");
    assert_eq!(reminders[0]["listing_id"], stale.to_string(), "{inbox}");
    let others = fx.get(Who::BMember, "/api/v1/inbox").await.json();
    assert!(!others.to_string().contains("listing.stale"), "only the owner's members: {others}");
    assert_eq!(fx.app.send_stale_reminders(now + time::Duration::days(1)).unwrap(), 0, "once per period");
    let _ = org_a;
    let next_period = now + time::Duration::days(181);
    let due = fx.app.listings_due_stale_reminder(next_period).unwrap();
    assert!(due.contains(&(stale, org_a)), "again a period later: {due:?}");
    assert!(due.contains(&(fresh, org_a)), "by then the fresh one is stale too");
    assert!(!due.iter().any(|(id, _)| *id == unowned), "no organisation to remind");
}

/// Whether `who` may read a published OrgA/OrgB listing of `visibility` in 110106 (see
/// `authz_matrix.rs`): the read scopes written out.
fn readable(who: Who, visibility: Visibility, owner: &str) -> bool {
    let own = match who {
        Who::AAdmin | Who::AMember | Who::Tm => owner == ORG_A,
        Who::BMember => owner == ORG_B,
        _ => false,
    };
    if own || who == Who::Admin {
        return true;
    }
    match visibility {
        Visibility::Public => true,
        Visibility::Registered => who != Who::Anonymous,
        // The listings are in 110106: Beijing's users read them.
        Visibility::Region => matches!(who, Who::AAdmin | Who::AMember | Who::Tm | Who::CMember | Who::RegionOp),
        _ => false,
    }
}

fn rank(state: DealState) -> u8 {
    match state {
        DealState::Accepted | DealState::Meeting => 1,
        DealState::Signed => 2,
        DealState::Converted => 3,
        _ => 0,
    }
}

#[tokio::test]
async fn the_funnel_equals_a_direct_count_from_the_store_for_every_scope() {
    let fx = Fixture::new();
    let visibilities = [
        ("public", Visibility::Public),
        ("registered", Visibility::Registered),
        ("region", Visibility::Region),
        ("organisation", Visibility::Organisation),
    ];
    let store = fx.app.deal_store();
    let user = |who: Who| fx.user(who).id;
    // (asker organisation, asker user, owner, listing visibility, states passed through)
    let plans: Vec<(&str, Who, &str, usize, Vec<DealState>)> = vec![
        (
            ORG_B,
            Who::BMember,
            ORG_A,
            0,
            vec![DealState::Accepted, DealState::Meeting, DealState::Signed, DealState::Converted],
        ),
        (ORG_B, Who::BMember, ORG_A, 1, vec![DealState::Accepted, DealState::Closed]),
        (ORG_C, Who::CMember, ORG_A, 2, vec![DealState::Accepted, DealState::Signed]),
        (ORG_C, Who::CMember, ORG_A, 3, vec![DealState::Declined]),
        (TALENT_ORG, Who::Talent, ORG_A, 0, vec![]),
        (ORG_A, Who::AMember, ORG_B, 0, vec![DealState::Accepted, DealState::Signed, DealState::Converted]),
        (ORG_A, Who::AMember, ORG_B, 2, vec![DealState::Declined]),
    ];
    let mut listings = Vec::new();
    for (index, (asker, asker_user, owner, vis, states)) in plans.iter().enumerate() {
        let listing = battery(&fx, &format!("漏斗成果 {index}"), visibilities[*vis].0, owner);
        listings.push((listing, *owner, visibilities[*vis].1));
        let mut deal = store
            .create_deal(
                NewDeal {
                    listing_id: listing,
                    from_listing_id: None,
                    asker_org: asker.to_string(),
                    owner_org: owner.to_string(),
                    asker_user_id: user(*asker_user),
                    message: String::new(),
                },
                &|_| Default::default(),
            )
            .unwrap();
        for state in states {
            let event = match state {
                DealState::Accepted => DealEvent::Accept,
                DealState::Declined => {
                    DealEvent::Decline { reason: xietong_domain::deal::DeclineReason::Price, note: None }
                }
                DealState::Meeting => DealEvent::Meeting { at: OffsetDateTime::now_utc(), place: "丰台".into() },
                DealState::Signed => DealEvent::Sign {
                    agreement_type: xietong_domain::deal::AgreementType::Licence,
                    value: None,
                    signed_on: xietong_domain::Day(time::macros::date!(2027 - 01 - 01)),
                    share_percent: None,
                    until: None,
                },
                DealState::Converted => {
                    DealEvent::Outcome { stage: xietong_domain::deal::OutcomeStage::PilotRun, revenue_band: None }
                }
                _ => DealEvent::Close { reason: "暂停".into() },
            };
            let change = DealChange {
                deal_id: deal.id,
                expected_version: deal.version,
                event,
                side: Side::Owner,
                actor_id: None,
                actor: "test".into(),
                state: *state,
                broker: None,
                engagement: None,
            };
            deal = store.apply_deal_change(change, &|_| Default::default()).unwrap();
        }
    }
    // Impressions by viewers of three provinces and anonymous ones, on two days.
    let days = [time::macros::date!(2027 - 02 - 10), time::macros::date!(2027 - 03 - 02)];
    let mut counts = Vec::new();
    for (index, (listing, _, _)) in listings.iter().enumerate() {
        for (offset, province) in ["130000", "110000", "120000", ""].into_iter().enumerate() {
            counts.push(ImpressionCount {
                listing_id: *listing,
                day: days[(index + offset) % 2],
                viewer_province: province.to_string(),
                count: (index + offset + 1) as u64,
            });
        }
    }
    fx.app.feedback_store().add_impressions(&counts).unwrap();
    fx.sync();
    // One impression through matching too, counted in memory until the funnel flushes it.
    match_ids(&fx, Who::BMember).await;

    let province = |owner: &str| if owner == ORG_A { "110000" } else { "130000" };
    let asker_province = |asker: &str| match asker {
        ORG_A | ORG_C => "110000",
        ORG_B => "130000",
        _ => "120000",
    };
    let deals = store.deals(&DealFilter::default(), 1_000).unwrap();
    let impressions = fx.app.feedback_store().impressions(None, None).unwrap();
    for who in [Who::Anonymous, Who::BMember, Who::AMember, Who::CMember, Who::RegionOp, Who::Admin] {
        let visible = |id: ListingId| {
            listings
                .iter()
                .find(|(listing, _, _)| *listing == id)
                .is_some_and(|(_, owner, vis)| readable(who, *vis, owner))
        };
        // Expected rows by region pair, counted straight from the store.
        let mut expected: BTreeMap<String, [u64; 5]> = BTreeMap::new();
        for deal in deals.iter().filter(|deal| visible(deal.listing_id)) {
            let key = format!("{}→{}", asker_province(&deal.asker_org), province(&deal.owner_org));
            let reached =
                |wanted: u8| rank(deal.state) >= wanted || deal.timeline.iter().any(|step| rank(step.state) >= wanted);
            let row = expected.entry(key).or_default();
            row[1] += 1;
            row[2] += u64::from(reached(1));
            row[3] += u64::from(reached(2));
            row[4] += u64::from(deal.state == DealState::Converted);
        }
        for impression in impressions.iter().filter(|i| visible(i.listing_id)) {
            let owner = listings.iter().find(|(l, _, _)| *l == impression.listing_id).unwrap().1;
            let viewer = if impression.viewer_province.is_empty() { "unknown" } else { &impression.viewer_province };
            expected.entry(format!("{viewer}→{}", province(owner))).or_default()[0] += impression.count;
        }
        // The match just run may have counted a listing in memory: the funnel flushes first, so
        // read the store again after asking.
        let reply = fx.get(who, "/api/v1/stats/funnel?by=region_pair").await;
        assert_eq!(reply.status, 200, "{who:?}: {}", reply.text);
        let funnel = reply.json();
        let flushed = fx.app.feedback_store().impressions(None, None).unwrap();
        let late: Vec<&ImpressionCount> = flushed.iter().filter(|c| !impressions.contains(c)).collect();
        for count in late.iter().filter(|c| visible(c.listing_id)) {
            let owner = listings.iter().find(|(l, _, _)| *l == count.listing_id).unwrap().1;
            let before: u64 = impressions
                .iter()
                .filter(|i| {
                    i.listing_id == count.listing_id && i.day == count.day && i.viewer_province == count.viewer_province
                })
                .map(|i| i.count)
                .sum();
            expected.entry(format!("{}→{}", count.viewer_province, province(owner))).or_default()[0] +=
                count.count - before;
        }
        let actual: BTreeMap<String, [u64; 5]> = funnel["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                let n = |field: &str| row[field].as_u64().unwrap();
                (
                    row["key"].as_str().unwrap().to_string(),
                    [n("matches_viewed"), n("proposed"), n("accepted"), n("signed"), n("converted")],
                )
            })
            .collect();
        assert_eq!(actual, expected, "{who:?}: {funnel}");
        let labels: Vec<&str> =
            funnel["rows"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
        if who == Who::Admin {
            for label in ["河北→北京", "北京→北京", "天津→北京", "北京→河北"] {
                assert!(labels.contains(&label), "{label} in {labels:?}");
            }
        }
        // Grouped otherwise, the totals are the same.
        for by in ["sector", "month"] {
            let other = fx.get(who, &format!("/api/v1/stats/funnel?by={by}")).await.json();
            for field in ["proposed", "accepted", "signed", "converted", "matches_viewed"] {
                assert_eq!(other["total"][field], funnel["total"][field], "{who:?} by {by}: {field}");
            }
        }
    }
    assert_eq!(fx.get(Who::Anonymous, "/api/v1/stats/funnel?by=colour").await.status, 400);
    let admin = fx.get(Who::Admin, "/api/v1/stats/funnel?by=month").await.json();
    let months: Vec<&str> = admin["rows"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert!(months.contains(&"2027-02") && months.contains(&"2027-03"), "{months:?}");

    // The dashboard draws the funnel and the region-pair table.
    let dashboard = fx.get(Who::Admin, "/").await;
    assert!(dashboard.text.contains(r#"<svg id="funnel-chart""#), "the funnel chart");
    assert!(dashboard.text.contains(r#"id="region-pairs""#) && dashboard.text.contains("河北→北京"));
    assert!(!dashboard.text.contains("<script src=\"http"), "no CDN");
}
