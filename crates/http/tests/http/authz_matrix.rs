//! The authorisation matrix: every route of the router × every role × every visibility level,
//! with the allowed or refused answer written out here from the access rules (not derived from
//! the rules declared beside the routes), so a new route fails `every_route_has_a_rule_and_an_expectation` until someone
//! decides who may call it.
//!
//! Rules (see `xietong_domain::access`): `public` for everyone; `registered` for any logged-in
//! user; `region` for users whose home region is in the listing's province; `organisation`,
//! and every non-published listing, for the owning organisation (and the technology managers it
//! appointed) only; the platform admin sees everything; region operators see listings awaiting
//! review in their region.

use std::collections::BTreeSet;

use crate::fixture::{
    AGENCY, Fixture, ORG_A, ORG_B, PASSWORD, Reply, Session, Vis, Who, encode, form_request, json_request, with_bearer,
    with_cookie,
};
use axum::body::Body;
use axum::http::{Request, header};
use serde_json::{Value, json};
use xietong_domain::{Role, Scope};

// ---------------------------------------------------------------------------------------------
// Who may read and change what, from the issue's rules.

/// Whether `who` may read OrgA's fixture listing at `vis` (110106, published unless a draft).
fn readable(who: Who, vis: Vis) -> bool {
    match who {
        Who::Admin | Who::AAdmin | Who::AMember | Who::Tm => true,
        Who::Anonymous => vis == Vis::Public,
        // Hebei and Tianjin: not the listing's province.
        Who::BMember | Who::Talent => matches!(vis, Vis::Public | Vis::Registered),
        // Beijing (OrgC in 110108; the operator of 110106).
        Who::CMember | Who::RegionOp => matches!(vis, Vis::Public | Vis::Registered | Vis::Region),
    }
}

/// Readable and in search, matching and search exports (which hold published listings only).
fn findable(who: Who, vis: Vis) -> bool {
    readable(who, vis) && vis != Vis::Draft
}

/// Acts for OrgA.
fn owner(who: Who) -> bool {
    matches!(who, Who::AAdmin | Who::AMember | Who::Tm)
}

/// May change OrgA's listings.
fn writer(who: Who) -> bool {
    owner(who) || who == Who::Admin
}

fn operator(who: Who) -> bool {
    matches!(who, Who::Admin | Who::RegionOp)
}

// Expected statuses.

fn ok_for_all(_: Who) -> u16 {
    200
}

fn users_only(status: u16) -> impl Fn(Who) -> u16 {
    move |who| if who == Who::Anonymous { 401 } else { status }
}

fn api_read(who: Who, vis: Vis) -> u16 {
    if readable(who, vis) { 200 } else { 404 }
}

fn api_write(who: Who, vis: Vis) -> u16 {
    match who {
        Who::Anonymous => 401,
        _ if writer(who) => 200,
        _ if readable(who, vis) => 403,
        _ => 404,
    }
}

/// Asking for the contact of OrgA's listing: not one's own, and the platform admin belongs to no
/// organisation that could ask.
fn ask_contact(who: Who, vis: Vis, success: u16) -> u16 {
    match who {
        Who::Anonymous => 401,
        _ if !readable(who, vis) => 404,
        _ if owner(who) => 409,
        Who::Admin => 403,
        _ => success,
    }
}

/// Deciding OrgB's request for the contact of an OrgA listing (a deal): OrgA decides; OrgB (the
/// asker), the admin and the region's operator see the deal but may not decide it; to everyone
/// else it does not exist.
fn decide_contact(who: Who, success: u16) -> u16 {
    match who {
        Who::Anonymous => 401,
        _ if owner(who) => success,
        Who::BMember | Who::Admin | Who::RegionOp => 403,
        _ => 404,
    }
}

/// Deciding a claim on a Fengtai organisation: the operator of 110106 and the admin decide; to
/// everyone else the claim does not exist.
fn decide_claim(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::Admin | Who::RegionOp => 200,
        _ => 404,
    }
}

/// Withdrawing someone else's claim: only the claimant withdraws.
fn withdraw_claim(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::Admin | Who::RegionOp => 403,
        _ => 404,
    }
}

/// Accepting OrgB's deal on an OrgA listing: OrgA's side accepts; OrgB (the asker) may not; the
/// admin and the listing region's operator see the deal but are no party; to everyone else it
/// does not exist.
fn accept_deal(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        _ if owner(who) => 200,
        Who::BMember | Who::Admin | Who::RegionOp => 403,
        _ => 404,
    }
}

/// Reading OrgB's deal on an OrgA listing: both parties, the admin and the region's operator.
fn read_deal(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        _ if owner(who) => 200,
        Who::BMember | Who::Admin | Who::RegionOp => 200,
        _ => 404,
    }
}

/// Operates OrgA's bookable facility (110106): OrgA's side, the operator of 110106, the admin.
fn facility_operator(who: Who) -> bool {
    owner(who) || operator(who)
}

fn facility_operators_only(status: u16) -> impl Fn(Who) -> u16 {
    move |who| match who {
        Who::Anonymous => 401,
        _ if facility_operator(who) => status,
        _ => 403,
    }
}

/// A booking of OrgB's member at OrgA's facility: its booker and the facility's operators see it.
fn read_booking(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::BMember => 200,
        _ if facility_operator(who) => 200,
        _ => 404,
    }
}

/// Approving that booking: the facility's operators; the booker may not.
fn approve_booking(who: Who) -> u16 {
    match who {
        Who::BMember => 403,
        other => read_booking(other),
    }
}

/// The ledger of a voucher issued to OrgA: its members, the admin and the issuing region's
/// operator (OrgA's technology manager belongs to another organisation).
fn read_voucher(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::AAdmin | Who::AMember | Who::Admin | Who::RegionOp => 200,
        _ => 404,
    }
}

/// Region operators (of 110106) and the admin write; others are refused.
fn operator_write(status: u16) -> impl Fn(Who) -> u16 {
    move |who| match who {
        Who::Anonymous => 401,
        _ if operator(who) => status,
        _ => 403,
    }
}

fn operators_only(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        _ if operator(who) => 200,
        _ => 403,
    }
}

/// A notice in a_member's inbox: only a_member marks it read; to everyone else it does not exist.
fn own_notice(status: u16) -> impl Fn(Who) -> u16 {
    move |who| match who {
        Who::Anonymous => 401,
        Who::AMember => status,
        _ => 404,
    }
}

/// Webhooks belong to the caller's own organisation: the platform admin has none.
fn org_member(status: u16) -> impl Fn(Who) -> u16 {
    move |who| match who {
        Who::Anonymous => 401,
        Who::Admin => 403,
        _ => status,
    }
}

/// A webhook of OrgA: its members manage it; OrgA's technology manager belongs to another
/// organisation; to everyone else it does not exist.
fn org_a_webhook(status: u16) -> impl Fn(Who) -> u16 {
    move |who| match who {
        Who::Anonymous => 401,
        Who::Admin => 403,
        Who::AMember | Who::AAdmin => status,
        _ => 404,
    }
}

fn admin_only(status: u16) -> impl Fn(Who) -> u16 {
    move |who| match who {
        Who::Anonymous => 401,
        Who::Admin => status,
        _ => 403,
    }
}

// ---------------------------------------------------------------------------------------------
// The expectation table.

type ByCaller = Box<dyn Fn(Who) -> u16>;
type ByLevel = Box<dyn Fn(Who, Vis) -> u16>;
type BodyCheck = Box<dyn Fn(&Fixture, Who, &Reply)>;

/// One check of a route.
enum Case {
    /// Once per caller; nothing in the request depends on a visibility level. `check` looks at
    /// the body of the reply (what may leak).
    Caller { variant: &'static str, status: ByCaller, check: Option<BodyCheck> },
    /// Per caller and visibility level: the request names (or creates) an OrgA listing at the
    /// level.
    Level { variant: &'static str, status: ByLevel },
    /// Per caller, answered 200: exactly the fixture listings `shown(caller, level)` appear in
    /// the body, and a JSON `total` counts exactly them.
    Titles { variant: &'static str, shown: fn(Who, Vis) -> bool },
}

fn caller(status: impl Fn(Who) -> u16 + 'static) -> Case {
    Case::Caller { variant: "", status: Box::new(status), check: None }
}

fn caller_checked(status: impl Fn(Who) -> u16 + 'static, check: impl Fn(&Fixture, Who, &Reply) + 'static) -> Case {
    Case::Caller { variant: "", status: Box::new(status), check: Some(Box::new(check)) }
}

fn level(status: impl Fn(Who, Vis) -> u16 + 'static) -> Case {
    Case::Level { variant: "", status: Box::new(status) }
}

fn titles(shown: fn(Who, Vis) -> bool) -> Case {
    Case::Titles { variant: "", shown }
}

type Route = (&'static str, &'static str, Vec<Case>);

/// Who may call every route, and what they get. A new route needs a line here.
fn expectations() -> Vec<Route> {
    vec![
        // Listings.
        ("POST", "/api/v1/listings", vec![level(|who, _| if who == Who::Anonymous { 401 } else { 201 })]),
        ("GET", "/api/v1/listings", vec![titles(readable)]),
        ("GET", "/api/v1/listings/{id}", vec![level(api_read)]),
        ("PUT", "/api/v1/listings/{id}", vec![level(api_write)]),
        ("POST", "/api/v1/listings/{id}/archive", vec![level(api_write)]),
        (
            "GET",
            "/api/v1/listings/{id}/matches",
            // The listing's own matches, and a public achievement's matches among the demands.
            vec![level(api_read), Case::Titles { variant: "of public source", shown: findable }],
        ),
        ("POST", "/api/v1/match", vec![titles(findable)]),
        ("GET", "/api/v1/search", vec![titles(findable)]),
        ("GET", "/api/v1/reference/regions", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/reference/industries", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/reference/trl", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/stats/overview", vec![caller_checked(ok_for_all, check_demand_count)]),
        ("GET", "/api/v1/stats/funnel", vec![caller(ok_for_all)]),
        // The planner's view: public reads (counting what the caller may read); the admin edits
        // chains; the admin and region operators record enclaves.
        ("GET", "/api/v1/chains", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/chains/{id}", vec![caller(ok_for_all)]),
        ("PUT", "/api/v1/chains/{id}", vec![caller(admin_only(200))]),
        ("GET", "/api/v1/chains/{id}/segments/{segment}/attraction", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/stats/enclaves", vec![caller(ok_for_all)]),
        (
            "POST",
            "/api/v1/enclaves",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                _ if operator(who) => 201,
                _ => 403,
            })],
        ),
        ("GET", "/api/v1/listings/{id}/segments", vec![level(api_read)]),
        (
            "GET",
            "/api/v1/listings/{id}/bundles",
            // OrgA's listings are demands: bundles are for achievements (400) once readable.
            vec![
                level(|who, vis| if readable(who, vis) { 400 } else { 404 }),
                Case::Caller { variant: "of public source", status: Box::new(ok_for_all), check: None },
            ],
        ),
        // An OrgA listing's feedback: OrgA's side and the admin; others who may read it get 403.
        ("GET", "/api/v1/listings/{id}/feedback", vec![level(api_write)]),
        ("GET", "/api/v1/templates/{kind}", vec![caller(ok_for_all)]),
        ("POST", "/api/v1/imports/{kind}", vec![caller(users_only(200))]),
        ("GET", "/api/v1/exports", vec![titles(readable), Case::Titles { variant: "search", shown: findable }]),
        // Accounts and credentials.
        ("POST", "/api/v1/auth/login", vec![caller(ok_for_all)]),
        ("POST", "/api/v1/auth/logout", vec![caller(users_only(204))]),
        ("GET", "/api/v1/me", vec![caller_checked(users_only(200), check_me)]),
        ("GET", "/api/v1/me/export", vec![caller(users_only(200))]),
        (
            "DELETE",
            "/api/v1/me",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::Talent => 200,
                _ => 403,
            })],
        ),
        ("GET", "/api/v1/tokens", vec![caller_checked(users_only(200), check_token_list)]),
        ("POST", "/api/v1/tokens", vec![caller(users_only(201))]),
        (
            "DELETE",
            "/api/v1/tokens/{id}",
            // A token of a_member: its holder and the platform admin revoke it.
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::AMember | Who::Admin => 204,
                _ => 404,
            })],
        ),
        ("GET", "/api/v1/orgs", vec![caller(users_only(200))]),
        ("POST", "/api/v1/orgs", vec![caller(admin_only(201))]),
        ("GET", "/api/v1/users", vec![caller(admin_only(200))]),
        (
            "POST",
            "/api/v1/users",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::Admin | Who::AAdmin => 201,
                _ => 403,
            })],
        ),
        // Contact requests.
        ("POST", "/api/v1/listings/{id}/contact-requests", vec![level(|who, vis| ask_contact(who, vis, 201))]),
        ("GET", "/api/v1/contact-requests", vec![caller_checked(users_only(200), check_contact_requests)]),
        ("POST", "/api/v1/contact-requests/{id}/accept", vec![caller(|who| decide_contact(who, 200))]),
        ("POST", "/api/v1/contact-requests/{id}/decline", vec![caller(|who| decide_contact(who, 200))]),
        // Deals: OrgB proposes on OrgA's listings.
        ("POST", "/api/v1/deals", vec![level(|who, vis| ask_contact(who, vis, 201))]),
        ("GET", "/api/v1/deals", vec![caller(users_only(200))]),
        // Bookings: OrgA's public facility in 110106 with a calendar; OrgB's member books it.
        ("GET", "/api/v1/facilities/{id}/calendar", vec![caller(ok_for_all)]),
        ("PUT", "/api/v1/facilities/{id}/calendar", vec![caller(facility_operators_only(200))]),
        ("GET", "/api/v1/facilities/{id}/calendar.ics", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/facilities/{id}/availability", vec![caller(ok_for_all)]),
        ("POST", "/api/v1/facilities/{id}/bookings", vec![caller(users_only(201))]),
        ("GET", "/api/v1/facilities/{id}/bookings", vec![caller(users_only(200))]),
        ("POST", "/api/v1/facilities/{id}/clearances", vec![caller(facility_operators_only(201))]),
        ("GET", "/api/v1/facilities/{id}/clearances", vec![caller(facility_operators_only(200))]),
        ("GET", "/api/v1/bookings", vec![caller(users_only(200))]),
        ("GET", "/api/v1/bookings/queue", vec![caller(users_only(200))]),
        ("GET", "/api/v1/bookings/{id}", vec![caller(read_booking)]),
        ("POST", "/api/v1/bookings/{id}/events", vec![caller(approve_booking)]),
        (
            "POST",
            "/api/v1/vouchers",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                _ if operator(who) => 201,
                _ => 403,
            })],
        ),
        ("GET", "/api/v1/vouchers", vec![caller(users_only(200))]),
        ("GET", "/api/v1/vouchers/{id}/ledger", vec![caller(read_voucher)]),
        ("GET", "/api/v1/stats/utilisation", vec![caller(ok_for_all)]),
        // Credentials (issue 18): Fengtai's operator and the admin issue, revoke and keep the
        // recognition table of 110106; reading, status lists, verification and cards are public.
        ("GET", "/.well-known/xietong/issuers.json", vec![caller(ok_for_all)]),
        ("POST", "/api/v1/credentials", vec![caller(operator_write(201))]),
        ("GET", "/api/v1/credentials/{id}", vec![caller(ok_for_all)]),
        ("POST", "/api/v1/credentials/{id}/revoke", vec![caller(operator_write(200))]),
        ("GET", "/api/v1/credentials/status/{list}", vec![caller(ok_for_all)]),
        ("POST", "/api/v1/credentials/verify", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/recognition-rules", vec![caller(ok_for_all)]),
        ("POST", "/api/v1/recognition-rules", vec![caller(operator_write(201))]),
        ("DELETE", "/api/v1/recognition-rules/{id}", vec![caller(operator_write(204))]),
        ("GET", "/api/v1/talents/{id}/card", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/talents/{id}/engagements", vec![caller(ok_for_all)]),
        // Engagements: OrgB engages OrgA's talent; the admin belongs to no organisation (400).
        (
            "POST",
            "/api/v1/engagements",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::Admin => 400,
                _ => 201,
            })],
        ),
        (
            "GET",
            "/api/v1/engagements/{id}",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::CMember | Who::Talent => 404,
                _ => 200,
            })],
        ),
        (
            "POST",
            "/api/v1/engagements/{id}/respond",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::CMember | Who::Talent => 404,
                _ if writer(who) => 200,
                _ => 403,
            })],
        ),
        ("GET", "/api/v1/stats/engagements", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/services", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/services/export", vec![caller(ok_for_all)]),
        ("POST", "/api/v1/services/import", vec![caller(operator_write(200))]),
        ("POST", "/api/v1/deals/{id}/events", vec![caller(accept_deal)]),
        ("GET", "/api/v1/deals/{id}", vec![caller(read_deal)]),
        // Every fixture account but the admin belongs to an organisation; the admin is no member.
        ("POST", "/api/v1/orgs/{id}/claims", vec![caller(|who| if who == Who::Anonymous { 401 } else { 409 })]),
        ("GET", "/api/v1/claims", vec![caller(users_only(200))]),
        ("POST", "/api/v1/claims/{id}/approve", vec![caller(decide_claim)]),
        ("POST", "/api/v1/claims/{id}/reject", vec![caller(decide_claim)]),
        ("POST", "/api/v1/claims/{id}/withdraw", vec![caller(withdraw_claim)]),
        // Notifications: the caller's own inbox; webhooks of the caller's own organisation.
        ("GET", "/api/v1/inbox", vec![caller_checked(users_only(200), check_inbox)]),
        ("POST", "/api/v1/inbox/{id}/read", vec![caller(own_notice(200))]),
        ("POST", "/api/v1/inbox/read-all", vec![caller(users_only(200))]),
        ("POST", "/api/v1/webhooks", vec![caller(org_member(201))]),
        ("GET", "/api/v1/webhooks", vec![caller_checked(org_member(200), check_webhooks)]),
        ("DELETE", "/api/v1/webhooks/{id}", vec![caller(org_a_webhook(204))]),
        ("GET", "/api/v1/webhooks/{id}/deliveries", vec![caller(org_a_webhook(200))]),
        ("PUT", "/api/v1/me/email", vec![caller(users_only(200))]),
        // Review and audit.
        ("GET", "/api/v1/reviews", vec![caller_checked(operators_only, check_reviews)]),
        (
            "POST",
            "/api/v1/listings/{id}/review",
            vec![
                // Awaiting review in 110106: the operator of 110106 decides.
                Case::Level {
                    variant: "110106",
                    status: Box::new(|who, _| match who {
                        Who::Anonymous => 401,
                        _ if operator(who) => 200,
                        _ => 403,
                    }),
                },
                // Awaiting review in 110108: not the operator's region, and not theirs to see.
                Case::Level {
                    variant: "110108",
                    status: Box::new(|who, _| match who {
                        Who::Anonymous => 401,
                        Who::Admin => 200,
                        Who::RegionOp => 404,
                        _ => 403,
                    }),
                },
            ],
        ),
        ("GET", "/api/v1/review-regions", vec![caller(ok_for_all)]),
        (
            "PUT",
            "/api/v1/review-regions/{code}",
            vec![
                caller(operators_only),
                Case::Caller {
                    variant: "130000",
                    status: Box::new(|who| match who {
                        Who::Anonymous => 401,
                        Who::Admin => 200,
                        _ => 403,
                    }),
                    check: None,
                },
            ],
        ),
        ("GET", "/api/v1/audit", vec![caller(operators_only)]),
        // Operations and documentation.
        ("GET", "/healthz", vec![caller(ok_for_all)]),
        ("GET", "/metrics", vec![caller_checked(ok_for_all, check_metrics)]),
        ("GET", "/api/openapi.json", vec![caller(ok_for_all)]),
        ("GET", "/api/docs", vec![caller(ok_for_all)]),
        // Web pages: GET pages needing a login redirect (303) to it; forms answer 303 on success.
        ("GET", "/", vec![titles(findable)]),
        ("GET", "/search", vec![titles(findable)]),
        ("GET", "/listings/new", vec![caller(|who| if who == Who::Anonymous { 303 } else { 200 })]),
        ("POST", "/listings/new", vec![level(|who, _| if who == Who::Anonymous { 401 } else { 303 })]),
        (
            "GET",
            "/listings/{id}",
            // The page of an OrgA listing, and the explained matches on a public achievement's page.
            vec![level(api_read), Case::Titles { variant: "of public source", shown: findable }],
        ),
        (
            "GET",
            "/listings/{id}/edit",
            vec![level(|who, vis| match who {
                Who::Anonymous => 303,
                _ => api_write(who, vis),
            })],
        ),
        (
            "POST",
            "/listings/{id}/edit",
            vec![level(|who, vis| match api_write(who, vis) {
                200 => 303,
                other => other,
            })],
        ),
        ("POST", "/listings/{id}/contact-request", vec![level(|who, vis| ask_contact(who, vis, 303))]),
        ("POST", "/listings/{id}/deal", vec![level(|who, vis| ask_contact(who, vis, 303))]),
        ("GET", "/deals/{id}", vec![caller(|who| if who == Who::Anonymous { 303 } else { read_deal(who) })]),
        (
            "POST",
            "/deals/{id}/events",
            vec![caller(|who| match accept_deal(who) {
                200 => 303,
                other => other,
            })],
        ),
        // Bookings on the pages, as through the API: anyone logged in books OrgA's facility;
        // its operators set the calendar and grant clearances; the queue page is everyone's
        // own (empty for those who operate nothing); approving is the operators'; vouchers are
        // issued by region operators and the admin and read by their holders and issuers.
        ("POST", "/listings/{id}/bookings", vec![caller(users_only(303))]),
        ("POST", "/listings/{id}/calendar", vec![caller(facility_operators_only(303))]),
        ("POST", "/listings/{id}/clearances", vec![caller(facility_operators_only(303))]),
        ("GET", "/bookings/queue", vec![caller(|who| if who == Who::Anonymous { 303 } else { 200 })]),
        (
            "POST",
            "/bookings/{id}/events",
            vec![caller(|who| match approve_booking(who) {
                200 => 303,
                other => other,
            })],
        ),
        (
            "POST",
            "/vouchers",
            vec![caller(|who| match operators_only(who) {
                200 => 303,
                other => other,
            })],
        ),
        ("GET", "/vouchers/{id}", vec![caller(|who| if who == Who::Anonymous { 303 } else { read_voucher(who) })]),
        // The talent card, a credential's verification and the service catalogue are public.
        ("GET", "/talents/{id}/card", vec![caller(ok_for_all)]),
        ("GET", "/credentials/verify", vec![caller(ok_for_all)]),
        ("GET", "/services", vec![caller(ok_for_all)]),
        // The talent's side answers an offer (OrgB engages OrgA's talent), as in the API.
        (
            "POST",
            "/engagements/{id}/respond",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::CMember | Who::Talent => 404,
                _ if writer(who) => 303,
                _ => 403,
            })],
        ),
        ("GET", "/transfer", vec![caller(ok_for_all)]),
        ("GET", "/chains", vec![caller(ok_for_all)]),
        ("GET", "/chains/{id}", vec![caller(ok_for_all)]),
        // The admin's edit form; others are refused (a visitor is asked to log in).
        (
            "POST",
            "/chains/{id}",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::Admin => 303,
                _ => 403,
            })],
        ),
        ("GET", "/chains/{id}/attraction", vec![caller(ok_for_all)]),
        ("GET", "/enclaves", vec![caller(ok_for_all)]),
        ("POST", "/transfer/import", vec![caller(users_only(200))]),
        ("GET", "/login", vec![caller(ok_for_all)]),
        ("POST", "/login", vec![caller(|_| 303)]),
        ("POST", "/logout", vec![caller(users_only(303))]),
        ("GET", "/account", vec![caller_checked(|who| if who == Who::Anonymous { 303 } else { 200 }, check_account)]),
        ("POST", "/account/requests/{id}", vec![caller(|who| decide_contact(who, 303))]),
        // Claims from the pages, as through the API: only a member account of no organisation
        // claims (none in the fixture); the operator of 110106 and the admin decide a Fengtai
        // claim, only the claimant withdraws.
        ("POST", "/orgs/claims", vec![caller(|who| if who == Who::Anonymous { 401 } else { 409 })]),
        (
            "POST",
            "/account/claims/{id}",
            vec![
                Case::Caller {
                    variant: "approve",
                    status: Box::new(|who| match decide_claim(who) {
                        200 => 303,
                        other => other,
                    }),
                    check: None,
                },
                Case::Caller {
                    variant: "reject",
                    status: Box::new(|who| match decide_claim(who) {
                        200 => 303,
                        other => other,
                    }),
                    check: None,
                },
                Case::Caller { variant: "withdraw", status: Box::new(withdraw_claim), check: None },
            ],
        ),
        ("GET", "/inbox", vec![caller(|who| if who == Who::Anonymous { 303 } else { 200 })]),
        ("POST", "/inbox/{id}/read", vec![caller(own_notice(303))]),
        ("POST", "/inbox/read-all", vec![caller(users_only(303))]),
        (
            "POST",
            "/listings/{id}/review",
            vec![
                // The review form on the account page, as the API's review above.
                Case::Level {
                    variant: "110106",
                    status: Box::new(|who, _| match who {
                        Who::Anonymous => 401,
                        _ if operator(who) => 303,
                        _ => 403,
                    }),
                },
                Case::Level {
                    variant: "110108",
                    status: Box::new(|who, _| match who {
                        Who::Anonymous => 401,
                        Who::Admin => 303,
                        Who::RegionOp => 404,
                        _ => 403,
                    }),
                },
            ],
        ),
        (
            "GET",
            "/audit",
            vec![caller(|who| match who {
                Who::Anonymous => 303,
                _ if operator(who) => 200,
                _ => 403,
            })],
        ),
        ("GET", "/assets/web/app.css", vec![caller(ok_for_all)]),
        ("GET", "/assets/web/app.js", vec![caller(ok_for_all)]),
        ("GET", "/assets/web/logo.svg", vec![caller(ok_for_all)]),
        // Challenges (last, so the fresh challenges of OrgA don't crowd its account page). A
        // fresh public challenge of OrgA: OrgA's side organises; OrgB leads a team with the
        // talent's organisation as a member; the region operator reviews; OrgC is another
        // organisation; the platform admin belongs to none.
        ("GET", "/api/v1/challenges/{id}", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/challenges/{id}/board", vec![caller(ok_for_all)]),
        ("GET", "/api/v1/challenges/{id}/suggestions", vec![caller(organiser_only(200))]),
        ("GET", "/api/v1/me/applications", vec![caller(users_only(200))]),
        (
            "POST",
            "/api/v1/challenges/{id}/applications",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::Admin => 403,
                // The organiser, and OrgB, which already applied.
                _ if owner(who) => 409,
                Who::BMember => 409,
                _ => 201,
            })],
        ),
        ("POST", "/api/v1/applications/{id}/withdraw", vec![caller(team_lead_only(200))]),
        ("POST", "/api/v1/challenges/{id}/close-applications", vec![caller(organiser_only(200))]),
        ("POST", "/api/v1/challenges/{id}/reviewers", vec![caller(organiser_only(201))]),
        (
            "POST",
            "/api/v1/applications/{id}/scores",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::RegionOp => 201,
                _ => 403,
            })],
        ),
        ("POST", "/api/v1/challenges/{id}/race", vec![caller(organiser_only(200))]),
        ("POST", "/api/v1/challenges/{id}/milestones", vec![caller(organiser_only(201))]),
        ("POST", "/api/v1/applications/{id}/reports", vec![caller(team_lead_only(201))]),
        (
            "POST",
            "/api/v1/reports/{id}/decision",
            // Only the organiser, the team and the platform admin know of a report.
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                _ if owner(who) => 200,
                Who::BMember | Who::Talent | Who::Admin => 403,
                _ => 404,
            })],
        ),
        ("POST", "/api/v1/challenges/{id}/award", vec![caller(organiser_only(200))]),
        ("POST", "/api/v1/challenges/{id}/close", vec![caller(organiser_only(200))]),
        ("POST", "/api/v1/challenges/{id}/invitations", vec![caller(organiser_only(201))]),
        // The challenge's pages: the page is public; its forms answer 303 on success.
        ("GET", "/challenges/{id}", vec![caller(ok_for_all)]),
        (
            "POST",
            "/challenges/{id}/apply",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::Admin => 403,
                _ if owner(who) => 409,
                Who::BMember => 409,
                _ => 303,
            })],
        ),
        ("POST", "/challenges/{id}/manage", vec![caller(organiser_only(303))]),
        (
            "POST",
            "/applications/{id}/act",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                Who::RegionOp => 303,
                _ => 403,
            })],
        ),
        (
            "POST",
            "/reports/{id}/decision",
            vec![caller(|who| match who {
                Who::Anonymous => 401,
                _ if owner(who) => 303,
                Who::BMember | Who::Talent | Who::Admin => 403,
                _ => 404,
            })],
        ),
    ]
}

/// A move of a challenge's organiser (OrgA's side).
fn organiser_only(status: u16) -> impl Fn(Who) -> u16 {
    move |who| match who {
        Who::Anonymous => 401,
        _ if owner(who) => status,
        _ => 403,
    }
}

/// A move of the team's lead (OrgB).
fn team_lead_only(status: u16) -> impl Fn(Who) -> u16 {
    move |who| match who {
        Who::Anonymous => 401,
        Who::BMember => status,
        _ => 403,
    }
}

/// Title of the notices in a_member's inbox (nobody else sees them).
const NOTICE_MARKER: &str = "MKNOTICE for a_member";
/// Path of OrgA's webhooks (nobody outside OrgA sees them).
const WEBHOOK_MARKER: &str = "MKWEBHOOK";

/// Safe routes that need the `admin` scope of a token (besides the role).
const NEEDS_ADMIN_SCOPE: &[(&str, &str)] =
    &[("GET", "/api/v1/reviews"), ("GET", "/api/v1/audit"), ("GET", "/api/v1/users"), ("GET", "/audit")];

// Body checks.

fn check_demand_count(_: &Fixture, who: Who, reply: &Reply) {
    let body = reply.json();
    let demand = body["kinds"].as_array().expect("kinds").iter().find(|k| k["kind"] == "demand").expect("demand");
    let expected = Vis::ALL.into_iter().filter(|vis| findable(who, *vis)).count() as u64;
    assert_eq!(demand["count"].as_u64(), Some(expected), "{who:?} counts the demands it may read: {body}");
}

fn check_me(fx: &Fixture, who: Who, reply: &Reply) {
    if who != Who::Anonymous {
        assert_eq!(reply.json()["username"], fx.user(who).username.as_str());
    }
}

fn check_token_list(fx: &Fixture, who: Who, reply: &Reply) {
    if let Some(token) = fx.token(who) {
        assert!(!reply.text.contains(token), "the token list never shows a token's value");
        assert!(reply.json().as_array().is_some_and(|tokens| !tokens.is_empty()));
    }
}

/// The fixture's request of OrgB for OrgA's public listing carries this message.
const REQUEST_MARKER: &str = "MKASKCONTACT";

fn check_contact_requests(_: &Fixture, who: Who, reply: &Reply) {
    let involved = owner(who) || who == Who::BMember;
    assert_eq!(reply.text.contains(REQUEST_MARKER), involved, "{who:?} sees OrgB's request to OrgA: {}", reply.text);
}

const PENDING_HERE: &str = "MKPENDINGFENGTAI";
const PENDING_THERE: &str = "MKPENDINGHAIDIAN";

fn check_inbox(_: &Fixture, who: Who, reply: &Reply) {
    if who != Who::Anonymous {
        assert!(!reply.text.contains(NOTICE_MARKER), "{who:?} sees only their own notices: {}", reply.text);
    }
}

fn check_webhooks(_: &Fixture, who: Who, reply: &Reply) {
    if !matches!(who, Who::AMember | Who::AAdmin | Who::Anonymous | Who::Admin) {
        assert!(!reply.text.contains(WEBHOOK_MARKER), "{who:?} sees only their organisation's webhooks");
    }
    assert!(!reply.text.contains("matrix-secret"), "secrets are never shown");
}

fn check_reviews(_: &Fixture, who: Who, reply: &Reply) {
    if operator(who) {
        assert!(reply.text.contains(PENDING_HERE), "{who:?} reviews 110106: {}", reply.text);
        assert_eq!(reply.text.contains(PENDING_THERE), who == Who::Admin, "{who:?} and 110108: {}", reply.text);
    }
}

fn check_metrics(_: &Fixture, _: Who, reply: &Reply) {
    // Counts of what everyone may see: of OrgA's five demands only the public one.
    assert!(
        reply.text.contains(r#"xietong_listings{kind="demand",status="published"} 1"#),
        "metrics count only public listings:\n{}",
        reply.text
    );
}

fn check_account(_: &Fixture, who: Who, reply: &Reply) {
    if owner(who) {
        for vis in Vis::ALL {
            assert!(reply.text.contains(vis.marker()), "{who:?}'s account page lists OrgA's {vis:?} listing");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// How requests authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credentials {
    /// The all-scope API token of the caller.
    Tokens,
    /// An API token with only the `read` scope.
    ReadOnlyTokens,
    /// A session cookie from logging in (safe requests only).
    Cookies,
}

struct Matrix {
    fx: Fixture,
    credentials: Credentials,
    read_tokens: std::collections::BTreeMap<Who, String>,
    sessions: std::collections::BTreeMap<Who, Session>,
    /// A public achievement of OrgB in 110106, the source whose matches are the fixture demands.
    source: String,
    /// OrgA's public bookable facility in 110106.
    facility: String,
    counter: std::cell::Cell<u32>,
    /// OrgA's public talent of 110106 (one, so OrgA's own pages keep their fixture listings).
    talent: std::cell::OnceCell<String>,
}

impl Matrix {
    async fn new(credentials: Credentials) -> Matrix {
        let fx = Fixture::new();
        let source = fx.store_listing(json!({
            "kind": "achievement",
            "title": "electrolyzer membrane stack MKSOURCE",
            "summary": "A membrane electrolyzer stack ready for pilot production.",
            "region_codes": ["110106"],
            "owner_org": ORG_B,
            "trl": 6,
        }));
        for (title, region) in [(PENDING_HERE, "110106"), (PENDING_THERE, "110108")] {
            fx.store_listing(json!({
                "kind": "achievement", "title": title, "summary": "awaiting review", "region_codes": [region],
                "owner_org": ORG_A, "status": "pending", "trl": 5,
            }));
        }
        let facility = fx.store_listing(json!({
            "kind": "facility", "title": "pilot reactor hall MKFACILITY", "summary": "three reactors",
            "region_codes": ["110106"], "owner_org": ORG_A, "facility_type": "pilot_base",
        }));
        let calendar = serde_json::from_value(json!({"unit": "hour", "capacity": 10000, "price_per_unit": 100}))
            .expect("calendar");
        fx.app.booking_store().set_calendar(facility.id, &calendar, &|_| Default::default()).expect("calendar");
        let public = fx.listings[&Vis::Public];
        fx.app
            .deal_store()
            .create_deal(
                xietong_store::NewDeal {
                    listing_id: public,
                    from_listing_id: None,
                    asker_org: ORG_B.into(),
                    owner_org: ORG_A.into(),
                    asker_user_id: fx.user(Who::BMember).id,
                    message: REQUEST_MARKER.into(),
                },
                &|_| Default::default(),
            )
            .expect("contact request");
        fx.sync();
        let mut read_tokens = std::collections::BTreeMap::new();
        let mut sessions = std::collections::BTreeMap::new();
        for who in Who::ALL {
            let Some(username) = who.username() else { continue };
            match credentials {
                Credentials::Tokens => {}
                Credentials::ReadOnlyTokens => {
                    let (_, token) = fx
                        .app
                        .account()
                        .auth()
                        .issue_token(fx.user(who), "read only", vec![Scope::Read], None, &|_| Default::default())
                        .expect("token");
                    read_tokens.insert(who, token);
                }
                Credentials::Cookies => {
                    sessions.insert(who, fx.login(username, PASSWORD).await);
                }
            }
        }
        Matrix {
            fx,
            credentials,
            read_tokens,
            sessions,
            source: source.id.to_string(),
            facility: facility.id.to_string(),
            counter: Default::default(),
            talent: Default::default(),
        }
    }

    fn unique(&self, prefix: &str) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        format!("{prefix}{n}")
    }

    fn authenticate(&self, who: Who, request: Request<Body>) -> Request<Body> {
        match self.credentials {
            Credentials::Tokens => with_bearer(request, self.fx.token(who)),
            Credentials::ReadOnlyTokens => with_bearer(request, self.read_tokens.get(&who).map(String::as_str)),
            Credentials::Cookies => match self.sessions.get(&who) {
                Some(session) => with_cookie(request, session),
                None => request,
            },
        }
    }

    /// A fresh OrgA demand at `vis` for a request that changes it.
    fn fresh(&self, vis: Vis) -> xietong_domain::Listing {
        let title = self.unique("fresh demand ");
        self.fx.org_a_demand(vis, &title)
    }

    /// A fresh request of OrgB for the contact of a fresh OrgA listing (a proposed deal).
    fn fresh_contact_request(&self) -> i64 {
        let listing = self.fresh(Vis::Public);
        let deal = xietong_store::NewDeal {
            listing_id: listing.id,
            from_listing_id: None,
            asker_org: ORG_B.into(),
            owner_org: ORG_A.into(),
            asker_user_id: self.fx.user(Who::BMember).id,
            message: "fresh request".into(),
        };
        self.fx.app.deal_store().create_deal(deal, &|_| Default::default()).expect("contact request").id
    }

    /// A fresh pending claim of a new account on a new Fengtai organisation.
    fn fresh_claim(&self) -> i64 {
        let org = xietong_store::NewOrg {
            name: self.unique("claimed org "),
            kind: xietong_domain::OrgKind::Enterprise,
            region_code: "110106".into(),
        };
        let org = self.fx.app.accounts().create_org(org, &|_| Default::default()).expect("org");
        let (user, _) = self.fx.add_user(&self.unique("claimant_"), Role::Member, None);
        let claim = xietong_store::NewClaim {
            org_id: org.id,
            user_id: user.id,
            uscc: "91110108551385082Q".into(),
            note: String::new(),
        };
        self.fx.app.claim_store().create_claim(claim, &|_| Default::default()).expect("claim").id
    }

    /// A fresh deal between OrgB (asking) and OrgA (owning) on a fresh public achievement. The
    /// deal's parties are what the routes check; the listing names an organisation nobody
    /// belongs to, so OrgA's own listings (its account page, the dashboard) stay the fixture's.
    fn fresh_deal(&self) -> i64 {
        let listing = self.fx.store_listing(json!({
            "kind": "achievement", "title": self.unique("deal achievement "), "summary": "membrane stack",
            "trl": 6, "region_codes": ["110106"], "owner_org": "DealListings", "visibility": "public", "status": "published",
        }));
        self.fx
            .app
            .deal_store()
            .create_deal(
                xietong_store::NewDeal {
                    listing_id: listing.id,
                    from_listing_id: None,
                    asker_org: ORG_B.into(),
                    owner_org: ORG_A.into(),
                    asker_user_id: self.fx.user(Who::BMember).id,
                    message: "fresh deal".into(),
                },
                &|_| Default::default(),
            )
            .expect("deal")
            .id
    }

    /// A fresh public challenge of OrgA at `stage` (open, reviewing, racing, reported): OrgB's
    /// application (with the talent's organisation as a member), the region operator as its
    /// reviewer, and from racing on a milestone (and OrgB's report). Returns the ids of the
    /// challenge, the application, the milestone and the report (0 when none).
    fn fresh_challenge(&self, stage: &str) -> (String, i64, i64, i64) {
        use xietong_domain::challenge::{MemberRole, Phase, TeamMember};
        use xietong_store::{ChallengeChange, ChallengeWrite, NewApplication};
        let listing = self.fx.store_listing(json!({
            "kind": "challenge", "title": self.unique("challenge "), "summary": "cold start",
            "region_codes": ["110106"], "owner_org": ORG_A, "visibility": "public", "status": "published",
            "deadline": "2099-12-31", "max_teams": 2,
            "criteria": [{"name": "tech", "weight": 60}, {"name": "feasibility", "weight": 40}],
        }));
        let store = self.fx.app.challenge_store();
        let step = |expected: Phase, phase: Phase, write: ChallengeWrite| {
            store
                .apply_challenge_change(
                    ChallengeChange { challenge_id: listing.id, expected_phase: expected, phase, write },
                    &|_| Default::default(),
                )
                .expect("challenge move")
                .created
                .unwrap_or(0)
        };
        let member = |org: &str, region: &str, role| TeamMember {
            name: "member".into(),
            organisation: org.into(),
            region_code: region.into(),
            role,
        };
        let application = step(
            Phase::Open,
            Phase::Open,
            ChallengeWrite::Apply {
                application: NewApplication {
                    team_name: "OrgB team".into(),
                    lead_org: ORG_B.into(),
                    lead_user_id: self.fx.user(Who::BMember).id,
                    members: vec![
                        member(ORG_B, "130602", MemberRole::Lead),
                        member(crate::fixture::TALENT_ORG, "120101", MemberRole::Member),
                    ],
                    proposal: "proposal".into(),
                },
                accept_until: None,
            },
        );
        step(
            Phase::Open,
            Phase::Open,
            ChallengeWrite::AppointReviewer {
                user_id: self.fx.user(Who::RegionOp).id,
                username: "region_op".into(),
                org: Some(crate::fixture::GOV.into()),
            },
        );
        let id = listing.id.to_string();
        if stage == "open" {
            return (id, application, 0, 0);
        }
        step(Phase::Open, Phase::Reviewing, ChallengeWrite::Phase { note: None });
        if stage == "reviewing" {
            return (id, application, 0, 0);
        }
        step(Phase::Reviewing, Phase::Racing, ChallengeWrite::Race { application_ids: vec![application] });
        let milestone = step(
            Phase::Racing,
            Phase::Racing,
            ChallengeWrite::AddMilestone {
                title: "prototype".into(),
                due_on: xietong_domain::Day::parse("2099-06-30").expect("day"),
            },
        );
        if stage == "racing" {
            return (id, application, milestone, 0);
        }
        let report = step(
            Phase::Racing,
            Phase::Racing,
            ChallengeWrite::FileReport {
                application_id: application,
                milestone_id: milestone,
                text: "report".into(),
                attachment: None,
                filed_by: self.fx.user(Who::BMember).id,
            },
        );
        (id, application, milestone, report)
    }

    /// A fresh booking of OrgB's member at OrgA's facility, an hour of its own a year ahead.
    fn fresh_booking(&self) -> i64 {
        let hours = i64::from(self.counter.get()) + 1;
        self.counter.set(self.counter.get() + 1);
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let start = (now / 3_600_000 + 24 * 365 + hours) * 3_600_000;
        let booking = xietong_store::NewBooking {
            facility_id: self.facility.parse().expect("facility id"),
            booker_id: self.fx.user(Who::BMember).id,
            booker: "b_member".into(),
            booker_org: Some(ORG_B.into()),
            request: xietong_domain::booking::Request { start, end: start + 3_600_000, quantity: 1 },
            units: 1,
            purpose: "matrix".into(),
            charge_fen: 10_000,
            voucher_id: None,
            waitlist: false,
        };
        self.fx.app.booking_store().create_booking(booking, &|_| Default::default()).expect("booking").id
    }

    /// OrgA's public talent listing in 110106 (made once).
    fn fresh_talent(&self) -> String {
        self.talent.get_or_init(|| self.make_talent()).clone()
    }

    fn make_talent(&self) -> String {
        let body: xietong_domain::ListingBody = serde_json::from_value(json!({
            "kind": "talent", "title": self.unique("矩阵人才"), "summary": "氢能专家", "region_codes": ["110106"],
            "owner_org": ORG_A,
        }))
        .expect("talent body");
        let body = xietong_domain::validate(body, xietong_domain::Reference::get()).expect("valid talent");
        self.fx.app.create_listing(&xietong_app::Actor::operator(), body).expect("talent").listing.id.to_string()
    }

    /// A fresh credential issued by Fengtai (the signed document).
    fn fresh_credential(&self) -> Value {
        let input = xietong_app::types::CredentialInput {
            talent: self.fresh_talent(),
            level: "高级工程师".into(),
            field: "氢能".into(),
            valid_days: 30,
            issuer: "110106".into(),
        };
        self.fx.app.issue_credential(&xietong_app::Actor::operator(), input).expect("credential").document
    }

    /// A fresh recognition rule of 110106.
    fn fresh_rule(&self) -> i64 {
        let input = xietong_app::types::RecognitionInput {
            verifier_region: "110106".into(),
            issuer_region: "133100".into(),
            issuer_level: self.unique("规则"),
            recognised_level: "高级".into(),
        };
        self.fx.app.add_recognition_rule(&xietong_app::Actor::operator(), input).expect("rule").id
    }

    /// A fresh engagement of OrgA's talent by OrgB, proposed.
    fn fresh_engagement(&self) -> i64 {
        let input = xietong_app::types::EngagementInput {
            talent: self.fresh_talent(),
            organisation: Some(ORG_B.into()),
            mode: "remote_consulting".into(),
            start: "2026-01-01".into(),
            end: "2026-06-30".into(),
            weekdays: vec![],
            share_percent: None,
        };
        self.fx.app.propose_engagement(&xietong_app::Actor::operator(), input).expect("engagement").id
    }

    /// A fresh voucher of OrgA issued by Fengtai.
    fn fresh_voucher(&self) -> i64 {
        let voucher = xietong_store::NewVoucher {
            org_id: self.fx.orgs[ORG_A].id,
            organisation: ORG_A.into(),
            amount_fen: 1_000_000,
            issuing_region: "110106".into(),
            accepted_regions: vec!["110000".into()],
            valid_until: i64::MAX / 2,
            issued_by: "matrix".into(),
        };
        self.fx.app.booking_store().issue_voucher(voucher, &|_| Default::default()).expect("voucher").id
    }

    /// A fresh notice in a_member's inbox.
    fn fresh_notice(&self) -> i64 {
        let mut entry =
            xietong_store::NewAudit { actor: "matrix".into(), action: "matrix.notice".into(), ..Default::default() };
        entry.notices = vec![xietong_store::Notice {
            event: "deal.closed".into(),
            title_zh: NOTICE_MARKER.into(),
            title_en: NOTICE_MARKER.into(),
            to_users: vec![self.fx.user(Who::AMember).id],
            ..Default::default()
        }];
        self.fx.app.accounts().audit(entry).expect("notice");
        let inbox = self.fx.app.notification_store().inbox(self.fx.user(Who::AMember).id, false, 1, 0).expect("inbox");
        inbox.items[0].id
    }

    /// A fresh webhook of OrgA.
    fn fresh_webhook(&self) -> i64 {
        self.fx
            .app
            .notification_store()
            .create_webhook(
                xietong_store::NewWebhook {
                    org_id: self.fx.orgs[ORG_A].id,
                    url: format!("https://1.1.1.1/{WEBHOOK_MARKER}"),
                    secret: "matrix-secret".into(),
                    events: vec!["*".into()],
                    created_by: self.fx.user(Who::AMember).id,
                },
                &|_| Default::default(),
            )
            .expect("webhook")
            .id
    }

    /// A well-formed request of `method path` (`variant` of it) by `who`, about an OrgA listing at
    /// `vis` where the route involves one.
    fn build(&self, method: &str, path: &str, variant: &str, who: Who, vis: Vis) -> Request<Body> {
        let fx = &self.fx;
        let id = fx.listings[&vis].to_string();
        let listing_body = |title: String| {
            let mut body = json!({
                "kind": "demand", "title": title, "summary": "created by the matrix", "region_codes": ["110106"],
                "visibility": vis.visibility(), "status": vis.status(),
            });
            if who == Who::Admin {
                body["owner_org"] = json!(ORG_A);
            }
            body
        };
        let request = match (method, path, variant) {
            ("POST", "/api/v1/listings", "") => {
                json_request(method, path, Some(listing_body(self.unique("api created "))))
            }
            ("GET", "/api/v1/listings", "") => json_request(method, "/api/v1/listings?kind=demand&limit=200", None),
            ("GET", "/api/v1/listings/{id}", "") => json_request(method, &format!("/api/v1/listings/{id}"), None),
            ("PUT", "/api/v1/listings/{id}", "") => {
                let listing = self.fresh(vis);
                let mut body = serde_json::to_value(&listing).expect("listing JSON");
                body["title"] = json!(self.unique("updated "));
                json_request(method, &format!("/api/v1/listings/{}", listing.id), Some(body))
            }
            ("POST", "/api/v1/listings/{id}/archive", "") => {
                let listing = self.fresh(vis);
                json_request(method, &format!("/api/v1/listings/{}/archive", listing.id), Some(json!({})))
            }
            ("GET", "/api/v1/listings/{id}/feedback", "") => {
                json_request(method, &format!("/api/v1/listings/{id}/feedback"), None)
            }
            ("GET", "/api/v1/stats/funnel", "") => json_request(method, "/api/v1/stats/funnel?by=region_pair", None),
            ("GET", "/api/v1/chains/{id}", "") => json_request(method, "/api/v1/chains/safety?district=110106", None),
            ("PUT", "/api/v1/chains/{id}", "") => {
                let record = self.fx.app.chain("ai").expect("shipped chain");
                json_request(
                    method,
                    "/api/v1/chains/ai",
                    Some(json!({"version": record.version, "chain": record.chain})),
                )
            }
            ("GET", "/api/v1/chains/{id}/segments/{segment}/attraction", "") => {
                json_request(method, "/api/v1/chains/safety/segments/safety-uav/attraction?region=130000", None)
            }
            ("POST", "/api/v1/enclaves", "") => json_request(
                method,
                path,
                Some(json!({"kind": "manufacturing", "name": self.unique("飞地 "), "home_region": "110106",
                    "host_region": "130602", "host_park": "保定园区"})),
            ),
            ("GET", "/api/v1/listings/{id}/segments", "") => {
                json_request(method, &format!("/api/v1/listings/{id}/segments"), None)
            }
            ("GET", "/api/v1/listings/{id}/bundles", "") => {
                json_request(method, &format!("/api/v1/listings/{id}/bundles"), None)
            }
            ("GET", "/api/v1/listings/{id}/bundles", "of public source") => {
                json_request(method, &format!("/api/v1/listings/{}/bundles", self.source), None)
            }
            ("GET", "/api/v1/listings/{id}/matches", "") => {
                json_request(method, &format!("/api/v1/listings/{id}/matches"), None)
            }
            ("GET", "/api/v1/listings/{id}/matches", "of public source") => {
                json_request(method, &format!("/api/v1/listings/{}/matches?kind=demand&limit=50", self.source), None)
            }
            ("POST", "/api/v1/match", "") => json_request(
                method,
                path,
                Some(
                    json!({"text": "hydrogen electrolyzer membrane", "kind": "demand", "region_codes": ["110106"], "limit": 50}),
                ),
            ),
            ("GET", "/api/v1/search", "") => json_request(method, "/api/v1/search?q=hydrogen&limit=50", None),
            ("GET", "/api/v1/templates/{kind}", "") => json_request(method, "/api/v1/templates/demand", None),
            ("POST", "/api/v1/imports/{kind}", "") => {
                let csv =
                    format!("title,summary,region_codes\n{},imported by the matrix,110106\n", self.unique("imported "));
                Request::builder()
                    .method("POST")
                    .uri("/api/v1/imports/demand?file_name=matrix.csv")
                    .header(header::CONTENT_TYPE, "text/csv")
                    .body(Body::from(csv))
                    .expect("request")
            }
            ("GET", "/api/v1/exports", "") => json_request(method, "/api/v1/exports?kind=demand", None),
            ("GET", "/api/v1/exports", "search") => {
                json_request(method, "/api/v1/exports?kind=demand&q=hydrogen", None)
            }
            ("POST", "/api/v1/auth/login", "") => {
                let username = who.username().unwrap_or("a_member");
                json_request(method, path, Some(json!({"username": username, "password": PASSWORD})))
            }
            ("DELETE", "/api/v1/me", "") if who == Who::Talent => {
                // The talent would erase itself; a second talent does.
                let (user, token) =
                    fx.add_user(&self.unique("talent_"), Role::Talent, Some(crate::fixture::TALENT_ORG));
                let token = match self.credentials {
                    Credentials::ReadOnlyTokens => {
                        fx.app
                            .account()
                            .auth()
                            .issue_token(&user, "read only", vec![Scope::Read], None, &|_| Default::default())
                            .expect("token")
                            .1
                    }
                    _ => token,
                };
                return with_bearer(json_request(method, path, None), Some(&token));
            }
            ("POST", "/api/v1/tokens", "") => json_request(method, path, Some(json!({"name": "matrix"}))),
            ("DELETE", "/api/v1/tokens/{id}", "") => {
                let (token, _) = fx
                    .app
                    .account()
                    .auth()
                    .issue_token(fx.user(Who::AMember), "to revoke", Scope::ALL.to_vec(), None, &|_| Default::default())
                    .expect("token");
                json_request(method, &format!("/api/v1/tokens/{}", token.id), None)
            }
            ("POST", "/api/v1/orgs", "") => json_request(
                method,
                path,
                Some(json!({"name": self.unique("NewOrg"), "kind": "enterprise", "region_code": "110106"})),
            ),
            ("POST", "/api/v1/users", "") => json_request(
                method,
                path,
                Some(
                    json!({"username": self.unique("new_user_"), "password": "another-password", "role": "member", "org": ORG_A}),
                ),
            ),
            ("POST", "/api/v1/listings/{id}/contact-requests", "") => {
                let listing = self.fresh(vis);
                json_request(
                    method,
                    &format!("/api/v1/listings/{}/contact-requests", listing.id),
                    Some(json!({"message": "matrix"})),
                )
            }
            ("POST", "/api/v1/deals", "") => {
                let listing = fx.store_listing(json!({
                    "kind": "achievement", "title": self.unique("deal achievement "), "summary": "membrane stack",
                    "trl": 6, "region_codes": ["110106"], "owner_org": ORG_A,
                    "visibility": vis.visibility(), "status": vis.status(),
                }));
                json_request(method, path, Some(json!({"listing_id": listing.id, "message": "matrix"})))
            }
            ("POST", "/api/v1/deals/{id}/events", "") => {
                let deal = self.fresh_deal();
                json_request(
                    method,
                    &format!("/api/v1/deals/{deal}/events"),
                    Some(json!({"type": "accept", "version": 1})),
                )
            }
            ("GET", "/api/v1/deals/{id}", "") => {
                let deal = self.fresh_deal();
                json_request(method, &format!("/api/v1/deals/{deal}"), None)
            }
            ("GET", "/api/v1/facilities/{id}/calendar" | "/api/v1/facilities/{id}/calendar.ics", "")
            | ("GET", "/api/v1/facilities/{id}/clearances" | "/api/v1/facilities/{id}/bookings", "") => {
                json_request(method, &path.replace("{id}", &self.facility), None)
            }
            ("GET", "/api/v1/facilities/{id}/availability", "") => json_request(
                method,
                &format!("/api/v1/facilities/{}/availability?from=2030-01-01&to=2030-01-02", self.facility),
                None,
            ),
            ("PUT", "/api/v1/facilities/{id}/calendar", "") => json_request(
                method,
                &path.replace("{id}", &self.facility),
                Some(json!({"unit": "hour", "capacity": 10000, "price_per_unit": 100})),
            ),
            ("POST", "/api/v1/facilities/{id}/bookings", "") => {
                let hours = i64::from(self.counter.get()) + 1;
                self.counter.set(self.counter.get() + 1);
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let start = (now / 3600 + 24 * 400 + hours) * 3600;
                let at = |secs: i64| {
                    time::OffsetDateTime::from_unix_timestamp(secs)
                        .expect("time")
                        .format(&time::format_description::well_known::Rfc3339)
                        .expect("format")
                };
                json_request(
                    method,
                    &path.replace("{id}", &self.facility),
                    Some(json!({"start": at(start), "end": at(start + 3600), "quantity": 1, "purpose": "matrix"})),
                )
            }
            ("POST", "/api/v1/facilities/{id}/clearances", "") => json_request(
                method,
                &path.replace("{id}", &self.facility),
                Some(json!({"username": "b_member", "valid_until": "2099-01-01T00:00:00Z"})),
            ),
            ("GET", "/api/v1/bookings/{id}", "") => {
                json_request(method, &format!("/api/v1/bookings/{}", self.fresh_booking()), None)
            }
            ("POST", "/api/v1/bookings/{id}/events", "") => json_request(
                method,
                &format!("/api/v1/bookings/{}/events", self.fresh_booking()),
                Some(json!({"type": "approve"})),
            ),
            ("POST", "/api/v1/vouchers", "") => json_request(
                method,
                path,
                Some(
                    json!({"organisation": ORG_A, "amount": 5, "issuing_region": "110106", "accepted_regions": ["110000"], "valid_until": "2099-12-31"}),
                ),
            ),
            ("GET", "/api/v1/vouchers/{id}/ledger", "") => {
                json_request(method, &format!("/api/v1/vouchers/{}/ledger", self.fresh_voucher()), None)
            }
            ("POST", "/api/v1/credentials", "") => json_request(
                method,
                path,
                Some(
                    json!({"talent": self.fresh_talent(), "level": "高级工程师", "field": "氢能", "valid_days": 30, "issuer": "110106"}),
                ),
            ),
            ("GET", "/api/v1/credentials/{id}", "") => json_request(
                method,
                &format!("/api/v1/credentials/{}", self.fresh_credential()["id"].as_str().expect("id")),
                None,
            ),
            ("POST", "/api/v1/credentials/{id}/revoke", "") => json_request(
                method,
                &format!("/api/v1/credentials/{}/revoke", self.fresh_credential()["id"].as_str().expect("id")),
                Some(json!({"reason": "matrix"})),
            ),
            ("GET", "/api/v1/credentials/status/{list}", "") => {
                self.fresh_credential();
                json_request(method, "/api/v1/credentials/status/110106", None)
            }
            ("POST", "/api/v1/credentials/verify", "") => json_request(method, path, Some(self.fresh_credential())),
            ("POST", "/api/v1/recognition-rules", "") => json_request(
                method,
                path,
                Some(
                    json!({"verifier_region": "110106", "issuer_region": "133100", "issuer_level": self.unique("级别"), "recognised_level": "高级"}),
                ),
            ),
            ("DELETE", "/api/v1/recognition-rules/{id}", "") => {
                json_request(method, &format!("/api/v1/recognition-rules/{}", self.fresh_rule()), None)
            }
            ("GET", "/api/v1/talents/{id}/card", "") => {
                json_request(method, &format!("/api/v1/talents/{}/card", self.fresh_talent()), None)
            }
            ("GET", "/api/v1/talents/{id}/engagements", "") => {
                json_request(method, &format!("/api/v1/talents/{}/engagements", self.fresh_talent()), None)
            }
            ("POST", "/api/v1/engagements", "") => json_request(
                method,
                path,
                Some(
                    json!({"talent": self.fresh_talent(), "mode": "remote_consulting", "start": "2026-01-01", "end": "2026-06-30"}),
                ),
            ),
            ("GET", "/api/v1/engagements/{id}", "") => {
                json_request(method, &format!("/api/v1/engagements/{}", self.fresh_engagement()), None)
            }
            ("POST", "/api/v1/engagements/{id}/respond", "") => json_request(
                method,
                &format!("/api/v1/engagements/{}/respond", self.fresh_engagement()),
                Some(json!({"action": "accept"})),
            ),
            ("POST", "/api/v1/services/import", "") => {
                let csv = "code,name,area,regions,cross_region,documents,office,time_limit_days\nM1,社保卡补办,社保,110106;133100,是,居民身份证,政务服务中心,5\n";
                let mut request = json_request(method, path, None);
                *request.body_mut() = Body::from(csv);
                request.headers_mut().insert(header::CONTENT_TYPE, "text/csv".parse().expect("header"));
                request
            }
            ("POST", "/api/v1/orgs/{id}/claims", "") => json_request(
                method,
                &path.replace("{id}", crate::fixture::ORG_C),
                Some(json!({"uscc": "91110108551385082Q"})),
            ),
            (
                "POST",
                "/api/v1/claims/{id}/approve" | "/api/v1/claims/{id}/reject" | "/api/v1/claims/{id}/withdraw",
                "",
            ) => {
                let claim = self.fresh_claim();
                json_request(method, &path.replace("{id}", &claim.to_string()), Some(json!({"reason": "matrix"})))
            }
            ("POST", "/api/v1/contact-requests/{id}/accept" | "/api/v1/contact-requests/{id}/decline", "") => {
                let request = self.fresh_contact_request();
                json_request(method, &path.replace("{id}", &request.to_string()), None)
            }
            ("POST", "/api/v1/listings/{id}/review", region) => {
                let listing = fx.store_listing(json!({
                    "kind": "demand", "title": self.unique("pending "), "summary": "awaiting review",
                    "region_codes": [region], "owner_org": ORG_A, "visibility": vis.visibility(), "status": "pending",
                }));
                json_request(method, &format!("/api/v1/listings/{}/review", listing.id), Some(json!({"approve": true})))
            }
            ("POST", "/listings/{id}/review", region) => {
                let listing = fx.store_listing(json!({
                    "kind": "demand", "title": self.unique("pending "), "summary": "awaiting review",
                    "region_codes": [region], "owner_org": ORG_A, "visibility": vis.visibility(), "status": "pending",
                }));
                form_request(method, &format!("/listings/{}/review", listing.id), &[("decision", "approve")])
            }
            ("PUT", "/api/v1/review-regions/{code}", "") => {
                json_request(method, "/api/v1/review-regions/110106", Some(json!({"required": false})))
            }
            ("PUT", "/api/v1/review-regions/{code}", "130000") => {
                json_request(method, "/api/v1/review-regions/130000", Some(json!({"required": false})))
            }
            ("GET", "/", "") => json_request(method, "/", None),
            ("GET", "/search", "") => json_request(method, "/search?q=hydrogen", None),
            ("GET", "/chains/{id}", "") => json_request(method, "/chains/medicine?region=110106", None),
            ("POST", "/chains/{id}", "") => {
                let record = self.fx.app.chain("aerospace").expect("shipped chain");
                let chain = serde_json::to_string(&record.chain).expect("chain JSON");
                form_request(
                    method,
                    "/chains/aerospace",
                    &[("version", &record.version.to_string()), ("chain", &chain)],
                )
            }
            ("GET", "/chains/{id}/attraction", "") => {
                json_request(method, "/chains/medicine/attraction?segment=med-api&region=130000", None)
            }
            ("GET", "/listings/new", "") => json_request(method, "/listings/new?kind=demand", None),
            ("POST", "/listings/new", "") => {
                let title = self.unique("web created ");
                let mut pairs = vec![
                    ("kind", "demand"),
                    ("title", title.as_str()),
                    ("summary", "created through the form"),
                    ("region_codes", "110106"),
                    ("visibility", vis.visibility()),
                    ("status", vis.status()),
                ];
                if who == Who::Admin {
                    pairs.push(("owner_org", ORG_A));
                }
                form_request(method, path, &pairs)
            }
            ("GET", "/listings/{id}", "") => json_request(method, &format!("/listings/{id}"), None),
            ("GET", "/listings/{id}", "of public source") => {
                json_request(method, &format!("/listings/{}", self.source), None)
            }
            ("GET", "/listings/{id}/edit", "") => json_request(method, &format!("/listings/{id}/edit"), None),
            ("POST", "/listings/{id}/edit", "") => {
                let listing = self.fresh(vis);
                let title = self.unique("web updated ");
                let version = listing.version.to_string();
                form_request(
                    method,
                    &format!("/listings/{}/edit", listing.id),
                    &[
                        ("kind", "demand"),
                        ("version", version.as_str()),
                        ("title", title.as_str()),
                        ("summary", "changed through the form"),
                        ("region_codes", "110106"),
                        ("owner_org", ORG_A),
                        ("visibility", vis.visibility()),
                        ("status", vis.status()),
                    ],
                )
            }
            ("GET", "/deals/{id}", "") => {
                let deal = self.fresh_deal();
                json_request(method, &format!("/deals/{deal}"), None)
            }
            ("POST", "/deals/{id}/events", "") => {
                let deal = self.fresh_deal();
                form_request(method, &format!("/deals/{deal}/events"), &[("type", "accept"), ("version", "1")])
            }
            ("POST", "/listings/{id}/deal", "") => {
                let listing = fx.store_listing(json!({
                    "kind": "achievement", "title": self.unique("deal achievement "), "summary": "membrane stack",
                    "trl": 6, "region_codes": ["110106"], "owner_org": ORG_A,
                    "visibility": vis.visibility(), "status": vis.status(),
                }));
                form_request(method, &format!("/listings/{}/deal", listing.id), &[("message", "matrix")])
            }
            ("POST", "/listings/{id}/contact-request", "") => {
                let listing = self.fresh(vis);
                form_request(method, &format!("/listings/{}/contact-request", listing.id), &[("message", "matrix")])
            }
            ("POST", "/transfer/import", "") => {
                let boundary = "matrixboundary";
                let csv =
                    format!("title,summary,region_codes\n{},uploaded by the matrix,110106\n", self.unique("uploaded "));
                let body = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ndemand\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"matrix.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
                );
                Request::builder()
                    .method("POST")
                    .uri(path)
                    .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
                    .body(Body::from(body))
                    .expect("request")
            }
            ("POST", "/login", "") => {
                let username = who.username().unwrap_or("a_member");
                form_request(method, path, &[("username", username), ("password", PASSWORD), ("next", "/")])
            }
            ("POST", "/logout", "") => form_request(method, path, &[]),
            ("POST", "/api/v1/inbox/{id}/read" | "/inbox/{id}/read", "") => {
                let notice = self.fresh_notice();
                let uri = path.replace("{id}", &notice.to_string());
                if path.starts_with("/api/") {
                    json_request(method, &uri, None)
                } else {
                    form_request(method, &uri, &[])
                }
            }
            ("POST", "/inbox/read-all", "") => form_request(method, path, &[]),
            ("POST", "/api/v1/webhooks", "") => json_request(
                method,
                path,
                Some(json!({"url": "https://1.1.1.1/matrix-hook", "secret": "matrix-secret", "events": ["*"]})),
            ),
            ("DELETE" | "GET", "/api/v1/webhooks/{id}" | "/api/v1/webhooks/{id}/deliveries", "") => {
                let hook = self.fresh_webhook();
                json_request(method, &path.replace("{id}", &hook.to_string()), None)
            }
            ("PUT", "/api/v1/me/email", "") => json_request(method, path, Some(json!({"email": "matrix@example.com"}))),
            ("POST", "/account/requests/{id}", "") => {
                let request = self.fresh_contact_request();
                form_request(method, &format!("/account/requests/{request}"), &[("decision", "accept")])
            }
            ("POST", "/orgs/claims", "") => form_request(
                method,
                path,
                &[("org", crate::fixture::ORG_C), ("uscc", "91110108551385082Q"), ("note", "matrix")],
            ),
            ("POST", "/listings/{id}/bookings", "") => {
                let hours = i64::from(self.counter.get()) + 1;
                self.counter.set(self.counter.get() + 1);
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let start = (now / 3600 + 24 * 500 + hours) * 3600;
                let at = |secs: i64| {
                    time::OffsetDateTime::from_unix_timestamp(secs)
                        .expect("time")
                        .format(&time::format_description::well_known::Rfc3339)
                        .expect("format")
                };
                let (start, end) = (at(start), at(start + 3600));
                form_request(
                    method,
                    &path.replace("{id}", &self.facility),
                    &[("start", start.as_str()), ("end", end.as_str()), ("quantity", "1"), ("purpose", "matrix")],
                )
            }
            ("POST", "/listings/{id}/calendar", "") => form_request(
                method,
                &path.replace("{id}", &self.facility),
                &[("unit", "hour"), ("capacity", "10000"), ("price_per_unit", "100")],
            ),
            ("POST", "/listings/{id}/clearances", "") => form_request(
                method,
                &path.replace("{id}", &self.facility),
                &[("username", "b_member"), ("valid_until", "2099-01-01")],
            ),
            ("POST", "/bookings/{id}/events", "") => form_request(
                method,
                &format!("/bookings/{}/events", self.fresh_booking()),
                &[("type", "approve"), ("back", "/bookings/queue")],
            ),
            ("POST", "/vouchers", "") => form_request(
                method,
                path,
                &[
                    ("organisation", ORG_A),
                    ("amount", "5"),
                    ("issuing_region", "110106"),
                    ("accepted_regions", "110000"),
                    ("valid_until", "2099-12-31"),
                ],
            ),
            ("GET", "/vouchers/{id}", "") => json_request(method, &format!("/vouchers/{}", self.fresh_voucher()), None),
            ("GET", "/talents/{id}/card", "") => {
                json_request(method, &format!("/talents/{}/card", self.fresh_talent()), None)
            }
            ("POST", "/engagements/{id}/respond", "") => form_request(
                method,
                &format!("/engagements/{}/respond", self.fresh_engagement()),
                &[("action", "accept")],
            ),
            ("GET", "/credentials/verify", "") => {
                let id = self.fresh_credential()["id"].as_str().expect("id").to_string();
                json_request(method, &format!("/credentials/verify?id={id}"), None)
            }
            ("POST", "/account/claims/{id}", decision) => {
                let claim = self.fresh_claim();
                form_request(
                    method,
                    &format!("/account/claims/{claim}"),
                    &[("decision", decision), ("reason", "matrix")],
                )
            }
            (
                "GET",
                "/api/v1/challenges/{id}" | "/api/v1/challenges/{id}/board" | "/api/v1/challenges/{id}/suggestions",
                "",
            ) => {
                let (challenge, ..) = self.fresh_challenge("open");
                json_request(method, &path.replace("{id}", &challenge), None)
            }
            ("POST", "/api/v1/challenges/{id}/applications", "") => {
                let (challenge, ..) = self.fresh_challenge("open");
                let (org, region) = match who {
                    Who::CMember => (crate::fixture::ORG_C, "110108"),
                    Who::Talent => (crate::fixture::TALENT_ORG, "120101"),
                    Who::RegionOp => (crate::fixture::GOV, "110106"),
                    Who::Tm => (AGENCY, "110106"),
                    Who::BMember => (ORG_B, "130602"),
                    _ => (ORG_A, "110106"),
                };
                json_request(
                    method,
                    &path.replace("{id}", &challenge),
                    Some(json!({"team_name": "matrix team", "proposal": "matrix", "members": [
                        {"name": "lead", "organisation": org, "region_code": region, "role": "lead"}]})),
                )
            }
            ("POST", "/api/v1/applications/{id}/withdraw", "") => {
                let (_, application, ..) = self.fresh_challenge("open");
                json_request(method, &path.replace("{id}", &application.to_string()), None)
            }
            ("POST", "/api/v1/challenges/{id}/close-applications", "") => {
                let (challenge, ..) = self.fresh_challenge("open");
                json_request(method, &path.replace("{id}", &challenge), None)
            }
            ("POST", "/api/v1/challenges/{id}/reviewers", "") => {
                let (challenge, ..) = self.fresh_challenge("open");
                json_request(method, &path.replace("{id}", &challenge), Some(json!({"username": "c_member"})))
            }
            ("POST", "/api/v1/applications/{id}/scores", "") => {
                let (_, application, ..) = self.fresh_challenge("reviewing");
                json_request(
                    method,
                    &path.replace("{id}", &application.to_string()),
                    Some(json!({"scores": {"tech": 80, "feasibility": 70}})),
                )
            }
            ("POST", "/api/v1/challenges/{id}/race", "") => {
                let (challenge, application, ..) = self.fresh_challenge("reviewing");
                json_request(method, &path.replace("{id}", &challenge), Some(json!({"application_ids": [application]})))
            }
            ("POST", "/api/v1/challenges/{id}/milestones", "") => {
                let (challenge, ..) = self.fresh_challenge("racing");
                json_request(
                    method,
                    &path.replace("{id}", &challenge),
                    Some(json!({"title": "matrix gate", "due_on": "2099-09-30"})),
                )
            }
            ("POST", "/api/v1/applications/{id}/reports", "") => {
                let (_, application, milestone, _) = self.fresh_challenge("racing");
                json_request(
                    method,
                    &path.replace("{id}", &application.to_string()),
                    Some(json!({"milestone_id": milestone, "text": "matrix report"})),
                )
            }
            ("POST", "/api/v1/reports/{id}/decision", "") => {
                let (.., report) = self.fresh_challenge("reported");
                json_request(
                    method,
                    &path.replace("{id}", &report.to_string()),
                    Some(json!({"passed": true, "note": "matrix"})),
                )
            }
            ("POST", "/api/v1/challenges/{id}/award", "") => {
                let (challenge, application, ..) = self.fresh_challenge("racing");
                json_request(method, &path.replace("{id}", &challenge), Some(json!({"application_ids": [application]})))
            }
            ("POST", "/api/v1/challenges/{id}/close", "") => {
                let (challenge, ..) = self.fresh_challenge("open");
                json_request(method, &path.replace("{id}", &challenge), Some(json!({"reason": "matrix"})))
            }
            ("POST", "/api/v1/challenges/{id}/invitations", "") => {
                let (challenge, ..) = self.fresh_challenge("open");
                let talent = fx.store_listing(json!({
                    "kind": "talent", "title": self.unique("invited talent "), "summary": "cold start expert",
                    "region_codes": ["110108"], "owner_org": crate::fixture::ORG_C, "visibility": "public", "status": "published",
                }));
                json_request(
                    method,
                    &path.replace("{id}", &challenge),
                    Some(json!({"listing_id": talent.id.to_string()})),
                )
            }
            ("GET", "/challenges/{id}", "") => {
                let (challenge, ..) = self.fresh_challenge("open");
                json_request(method, &path.replace("{id}", &challenge), None)
            }
            ("POST", "/challenges/{id}/apply", "") => {
                let (challenge, ..) = self.fresh_challenge("open");
                let (org, region) = match who {
                    Who::CMember => (crate::fixture::ORG_C, "110108"),
                    Who::Talent => (crate::fixture::TALENT_ORG, "120101"),
                    Who::RegionOp => (crate::fixture::GOV, "110106"),
                    Who::Tm => (AGENCY, "110106"),
                    Who::BMember => (ORG_B, "130602"),
                    _ => (ORG_A, "110106"),
                };
                form_request(
                    method,
                    &path.replace("{id}", &challenge),
                    &[
                        ("team_name", "matrix team"),
                        ("proposal", "matrix"),
                        ("member_name_0", "lead"),
                        ("member_org_0", org),
                        ("member_region_0", region),
                        ("member_role_0", "lead"),
                    ],
                )
            }
            ("POST", "/challenges/{id}/manage", "") => {
                let (challenge, ..) = self.fresh_challenge("open");
                form_request(method, &path.replace("{id}", &challenge), &[("action", "close_applications")])
            }
            ("POST", "/applications/{id}/act", "") => {
                let (_, application, ..) = self.fresh_challenge("reviewing");
                form_request(
                    method,
                    &path.replace("{id}", &application.to_string()),
                    &[("action", "score"), ("score:tech", "80"), ("score:feasibility", "70")],
                )
            }
            ("POST", "/reports/{id}/decision", "") => {
                let (.., report) = self.fresh_challenge("reported");
                form_request(method, &path.replace("{id}", &report.to_string()), &[("passed", "true"), ("note", "ok")])
            }
            // Routes without parameters or body.
            (_, _, "") if !path.contains('{') => json_request(method, path, None),
            _ => panic!("no request written for {method} {path} ({variant:?}); add one to `Matrix::build`"),
        };
        self.authenticate(who, request)
    }

    /// Runs one case for every caller (and level) and returns the failures.
    async fn run(&self, method: &str, path: &str, case: &Case) -> Vec<String> {
        let mut failures = Vec::new();
        let callers: Vec<Who> = match self.credentials {
            Credentials::ReadOnlyTokens => Who::ALL.into_iter().filter(|who| *who != Who::Anonymous).collect(),
            _ => Who::ALL.to_vec(),
        };
        for who in callers {
            let levels: &[Vis] = match case {
                Case::Level { .. } => &Vis::ALL,
                _ => &[Vis::Public],
            };
            for &vis in levels {
                let (variant, expected) = match case {
                    Case::Caller { variant, status, .. } => (*variant, status(who)),
                    Case::Level { variant, status } => (*variant, status(who, vis)),
                    Case::Titles { variant, .. } => (*variant, 200),
                };
                let expected = self.adjust(method, path, expected);
                let reply = self.fx.send(self.build(method, path, variant, who, vis)).await;
                let what = format!("{method} {path} {variant} as {who:?} at {vis:?} ({:?})", self.credentials);
                if reply.status.as_u16() != expected {
                    failures.push(format!("{what}: expected {expected}, got {}: {:.300}", reply.status, reply.text));
                    continue;
                }
                if expected == 303 && who == Who::Anonymous && method == "GET" {
                    let location = reply.header("location").unwrap_or("");
                    if !location.starts_with("/login") {
                        failures.push(format!("{what}: redirects to {location:?}, not the login page"));
                    }
                }
                // Nothing the caller may not read shows up anywhere.
                for hidden in Vis::ALL.into_iter().filter(|vis| !readable(who, *vis)) {
                    if reply.text.contains(hidden.marker()) {
                        failures.push(format!("{what}: the body shows the {hidden:?} listing: {:.500}", reply.text));
                    }
                }
                if expected >= 300 {
                    continue;
                }
                match case {
                    Case::Caller { check: Some(check), .. } => {
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&self.fx, who, &reply)));
                        if let Err(panic) = outcome {
                            let message = panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            failures.push(format!("{what}: {message}"));
                        }
                    }
                    Case::Titles { shown, .. } => {
                        let expected: BTreeSet<Vis> = Vis::ALL.into_iter().filter(|vis| shown(who, *vis)).collect();
                        let found: BTreeSet<Vis> =
                            Vis::ALL.into_iter().filter(|vis| reply.text.contains(vis.marker())).collect();
                        if found != expected {
                            failures
                                .push(format!("{what}: shows {found:?}, expected {expected:?}: {:.800}", reply.text));
                        }
                        if let Some(total) =
                            serde_json::from_str::<Value>(&reply.text).ok().and_then(|v| v["total"].as_u64())
                            && total != expected.len() as u64
                        {
                            failures.push(format!("{what}: total {total}, expected {}", expected.len()));
                        }
                    }
                    _ => {}
                }
            }
        }
        failures
    }

    /// The expected status under the credentials: a read-only token is refused (403) on every
    /// unsafe route and where the `admin` scope is needed, and otherwise answered like a full one.
    fn adjust(&self, method: &str, path: &str, expected: u16) -> u16 {
        match self.credentials {
            Credentials::ReadOnlyTokens if method != "GET" || NEEDS_ADMIN_SCOPE.contains(&(method, path)) => 403,
            _ => expected,
        }
    }
}

/// Runs the cases the filter picks and fails with every mismatch at once.
async fn run_matrix(credentials: Credentials, pick: impl Fn(&str, &str, &Case) -> bool) {
    let started = std::time::Instant::now();
    let matrix = Matrix::new(credentials).await;
    let mut failures = Vec::new();
    let mut cases = 0;
    let table = expectations();
    // Reads first, so the writes' new listings don't crowd the fixture out of short lists.
    for reads in [true, false] {
        for (method, path, route_cases) in table.iter().filter(|(method, _, _)| (*method == "GET") == reads) {
            for case in route_cases.iter().filter(|case| pick(method, path, case)) {
                cases += 1;
                failures.extend(matrix.run(method, path, case).await);
            }
        }
    }
    eprintln!("{credentials:?}: {cases} cases in {:.1}s", started.elapsed().as_secs_f64());
    assert!(cases > 0, "no cases picked");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn every_route_has_a_rule_and_an_expectation() {
    let fx = Fixture::new();
    let inventory: BTreeSet<(String, String)> = xietong_http::route_inventory(&fx.openapi).into_iter().collect();
    assert!(inventory.len() > 50, "the inventory lists the routes: {inventory:?}");
    let rules = xietong_http::route_rules();
    for (method, path) in &inventory {
        let method: axum::http::Method = method.parse().expect("method");
        assert!(rules.rule_for(&method, path).is_some(), "{method} {path} has no access rule");
    }
    let ruled: BTreeSet<(String, String)> = rules.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    let stale: Vec<_> = ruled.difference(&inventory).collect();
    assert!(stale.is_empty(), "rules for routes the router does not have: {stale:?}");
    let expected: BTreeSet<(String, String)> =
        expectations().into_iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let unexpected: Vec<_> = inventory.difference(&expected).collect();
    assert!(
        unexpected.is_empty(),
        "routes without an expectation in this test (decide who may call them and add them to `expectations`): {unexpected:?}"
    );
    let gone: Vec<_> = expected.difference(&inventory).collect();
    assert!(gone.is_empty(), "expectations of routes the router does not have: {gone:?}");
    assert_eq!(expectations().len(), expected.len(), "one line per route in `expectations`");
}

#[tokio::test]
async fn every_route_of_the_inventory_is_a_route_of_the_router() {
    // The inventory is recorded while the router is built; each entry must reach a route (the
    // access check runs only on matched routes), not the 404 fallback or a 405 of a path that
    // has other methods. Anonymous requests: refused or answered, but never unrouted.
    let fx = Fixture::new();
    let id = fx.listings[&Vis::Public];
    for (method, path) in xietong_http::route_inventory(&fx.openapi) {
        let uri = path.replace("{id}", &id.to_string()).replace("{kind}", "demand").replace("{code}", "110106");
        let reply = fx.call(Who::Anonymous, &method, &uri, None).await;
        let fallback = reply.status == 404 && reply.text.contains("no such route");
        assert!(!fallback && reply.status != 405, "{method} {path} is not a route of the router: {}", reply.status);
    }
}

#[tokio::test]
async fn collections_show_exactly_what_each_caller_may_read() {
    run_matrix(Credentials::Tokens, |_, _, case| matches!(case, Case::Titles { .. })).await;
}

#[tokio::test]
async fn listing_routes_by_caller_and_visibility() {
    run_matrix(Credentials::Tokens, |_, _, case| matches!(case, Case::Level { .. })).await;
}

#[tokio::test]
async fn account_review_and_other_routes_by_caller() {
    run_matrix(Credentials::Tokens, |_, _, case| matches!(case, Case::Caller { .. })).await;
}

#[tokio::test]
async fn read_only_tokens_read_but_never_write() {
    run_matrix(Credentials::ReadOnlyTokens, |_, _, _| true).await;
}

#[tokio::test]
async fn web_pages_with_session_cookies() {
    run_matrix(Credentials::Cookies, |method, path, _| method == "GET" && !path.starts_with("/api/")).await;
}

/// The issue's example spelled out: a member of OrgB can't reach OrgA's draft by any path.
#[tokio::test]
async fn another_organisations_draft_stays_hidden_on_every_path() {
    let fx = Fixture::new();
    let draft = fx.listings[&Vis::Draft];
    let source = fx.store_listing(json!({
        "kind": "achievement", "title": "electrolyzer membrane stack MKSOURCE",
        "summary": "A membrane electrolyzer stack for hydrogen.", "region_codes": ["110106"], "owner_org": ORG_B, "trl": 6,
    }));
    fx.sync();
    let marker = Vis::Draft.marker();
    let b = Who::BMember;

    let by_id = fx.get(b, &format!("/api/v1/listings/{draft}")).await;
    assert_eq!(by_id.status, 404, "by id");
    assert_eq!(fx.get(b, &format!("/listings/{draft}")).await.status, 404, "web page");
    assert_eq!(fx.get(b, &format!("/listings/{draft}/edit")).await.status, 404, "edit page");
    assert_eq!(fx.get(b, &format!("/api/v1/listings/{draft}/matches")).await.status, 404, "its matches");

    for uri in [
        format!("/api/v1/search?q={marker}"),
        "/api/v1/search?q=hydrogen&limit=50".to_string(),
        "/search?q=hydrogen".to_string(),
        "/api/v1/listings?kind=demand&limit=200".to_string(),
        format!("/api/v1/listings?owner_org={ORG_A}&status=draft"),
        format!("/api/v1/listings/{}/matches?kind=demand&limit=50", source.id),
        "/api/v1/exports?kind=demand".to_string(),
        "/api/v1/exports?kind=demand&status=draft".to_string(),
        format!("/api/v1/exports?kind=demand&q={marker}"),
        "/".to_string(),
    ] {
        let reply = fx.get(b, &uri).await;
        assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
        assert!(!reply.text.contains(marker), "{uri} shows OrgA's draft to OrgB:\n{:.800}", reply.text);
        if let Some(total) = serde_json::from_str::<Value>(&reply.text).ok().and_then(|v| v["total"].as_u64())
            && uri.contains(marker)
        {
            assert_eq!(total, 0, "{uri} counts the draft");
        }
    }
    let matched = fx
        .call(
            b,
            "POST",
            "/api/v1/match",
            Some(json!({"text": format!("{marker} hydrogen electrolyzer"), "kind": "demand"})),
        )
        .await;
    assert_eq!(matched.status, 200);
    assert!(!matched.text.contains(marker), "match explanations list the draft: {}", matched.text);
    let asked = fx.call(b, "POST", &format!("/api/v1/listings/{draft}/contact-requests"), Some(json!({}))).await;
    assert_eq!(asked.status, 404, "contact request for the draft");
    let changed = fx.call(b, "POST", &format!("/api/v1/listings/{draft}/archive"), Some(json!({}))).await;
    assert_eq!(changed.status, 404, "archive the draft");

    // Its owners do see it by id, in lists and exports (search holds published listings only).
    for who in [Who::AMember, Who::AAdmin, Who::Tm, Who::Admin] {
        assert_eq!(fx.get(who, &format!("/api/v1/listings/{draft}")).await.status, 200, "{who:?} by id");
        let export = fx.get(who, "/api/v1/exports?kind=demand").await;
        assert!(export.text.contains(marker), "{who:?} exports the draft");
        let list = fx.get(who, "/api/v1/listings?kind=demand&status=draft").await;
        assert_eq!(list.json()["total"], 1, "{who:?} lists the draft");
    }
}

/// Owners name only organisations they act for; a technology manager acts for OrgA.
#[tokio::test]
async fn publishing_for_another_organisation_is_refused() {
    let fx = Fixture::new();
    let body = |owner: &str| json!({"kind": "demand", "title": "owned elsewhere", "summary": "s", "region_codes": ["110106"], "owner_org": owner});
    assert_eq!(fx.call(Who::BMember, "POST", "/api/v1/listings", Some(body(ORG_A))).await.status, 403);
    assert_eq!(fx.call(Who::AMember, "POST", "/api/v1/listings", Some(body(ORG_B))).await.status, 403);
    let tm = fx.call(Who::Tm, "POST", "/api/v1/listings", Some(body(ORG_A))).await;
    assert_eq!(tm.status, 201, "{}", tm.text);
    assert_eq!(tm.json()["owner_org"], ORG_A);
    let own = fx.call(Who::Tm, "POST", "/api/v1/listings", Some(body(AGENCY))).await;
    assert_eq!(own.status, 201);
    let admin = fx.call(Who::Admin, "POST", "/api/v1/listings", Some(body(ORG_B))).await;
    assert_eq!(admin.status, 201);
    // Moving a listing to another organisation by an update is ignored for non-admins.
    let listing = tm.json();
    let mut moved = listing.clone();
    moved["owner_org"] = json!(ORG_B);
    let id = listing["id"].as_str().unwrap().to_string();
    let updated = fx.call(Who::AMember, "PUT", &format!("/api/v1/listings/{id}"), Some(moved)).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json()["owner_org"], ORG_A);
    // The platform admin editing without naming an owner keeps it.
    let mut unnamed = updated.json();
    unnamed.as_object_mut().unwrap().remove("owner_org");
    unnamed["title"] = json!("renamed by the admin");
    let by_admin = fx.call(Who::Admin, "PUT", &format!("/api/v1/listings/{id}"), Some(unnamed)).await;
    assert_eq!(by_admin.status, 200, "{}", by_admin.text);
    assert_eq!(by_admin.json()["owner_org"], ORG_A);
}

/// Cross-site and anonymous web writes never reach a handler.
#[tokio::test]
async fn web_forms_need_a_login() {
    let fx = Fixture::new();
    let id = fx.listings[&Vis::Public];
    let reply =
        fx.send(form_request("POST", &format!("/listings/{id}/edit"), &[("kind", "demand"), ("title", "x")])).await;
    assert_eq!(reply.status, 401);
    let page = fx.send(json_request("GET", &format!("/listings/{id}/edit"), None)).await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.header("location"),
        Some(format!("/login?next={}", encode(&format!("/listings/{id}/edit"))).as_str())
    );
}
