//! Claims (认领) on organisations in the pages: the listing page tells that nobody represents
//! the owner and offers a member account of no organisation the claim form (`POST /orgs/claims`);
//! the account page lists the user's own claims (to withdraw while pending) and, for region
//! operators and the platform admin, the claims they decide (`POST /account/claims/{id}`).

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use xietong_app::types::{Claim, OrgRef};
use xietong_domain::claim::{ClaimEvent, ClaimState};
use xietong_domain::{Listing, ListingId, Principal, Role};

use super::account::{data_table, panel, when};
use super::{PageCtx, esc, see_other};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The owner of a listing whom nobody represents on the platform, as the listing page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrepresented {
    /// The organisation's name, as the listing carries it.
    pub org: String,
    /// The viewer may claim it: a member account of no organisation.
    pub can_claim: bool,
    /// The viewer has a pending claim on it already.
    pub pending: bool,
}

/// The listing's owner when nobody represents it; `None` when the listing names no owner or an
/// active member represents it.
pub fn unrepresented_owner(
    app: &xietong_app::App,
    caller: &Caller,
    listing: &Listing,
) -> ApiResult<Option<Unrepresented>> {
    let Some(org) = listing.body.owner_org.as_deref().map(str::trim).filter(|name| !name.is_empty()) else {
        return Ok(None);
    };
    if app.org_represented(org)? {
        return Ok(None);
    }
    let can_claim =
        caller.principal().is_some_and(|principal| principal.role == Role::Member && principal.org.is_none());
    let pending =
        can_claim && app.claims(&caller.actor(), Some(ClaimState::Pending))?.iter().any(|claim| claim.org_name == org);
    Ok(Some(Unrepresented { org: org.to_string(), can_claim, pending }))
}

/// The note on the listing page about an owner nobody represents, with the claim form for a
/// member account of no organisation.
pub fn unrepresented_block(ctx: &PageCtx, listing: ListingId, owner: &Unrepresented) -> String {
    let mut html = format!(
        r#"<section class="panel" id="org-unrepresented" aria-labelledby="org-unrepresented-h"><h2 id="org-unrepresented-h">{h}</h2><p class="notice info" role="note" id="org-unrepresented-note">{note}</p>"#,
        h = ctx.t("机构入驻情况", "Organisation on the platform"),
        note = ctx.t(
            "该机构尚未入驻平台，对接由所在区域的运营方和技术经理人代为处理。",
            "This organisation has not joined the platform yet; the operators and technology managers of its region handle deals for it."
        ),
    );
    if owner.pending {
        let _ = write!(
            html,
            r#"<p class="hint" id="claim-pending">{} <a href="/account#claims">{}</a></p>"#,
            ctx.t(
                "您已申请认领此机构，等待所在区域运营方审核。",
                "You asked to claim this organisation; its region's operator has not decided yet."
            ),
            ctx.t("查看我的认领", "See my claims"),
        );
    } else if owner.can_claim {
        let _ = write!(
            html,
            r#"<form method="post" action="/orgs/claims" class="claim-form" id="claim-form">{csrf}<input type="hidden" name="org" value="{org}"><input type="hidden" name="listing" value="{listing}">
<h3 id="claim-h">{h}</h3><p class="hint">{hint}</p>
<div class="field"><label for="claim-uscc">{l_uscc}</label><input type="text" id="claim-uscc" name="uscc" required minlength="18" maxlength="18" autocapitalize="characters" spellcheck="false" autocomplete="off"></div>
<div class="field"><label for="claim-note">{l_note}</label><textarea id="claim-note" name="note" rows="2" maxlength="2000"></textarea></div>
<p><button type="submit" id="claim-submit">{submit}</button></p></form>"#,
            csrf = ctx.csrf_input(),
            org = esc(&owner.org),
            h = ctx.t("认领此机构", "Claim this organisation"),
            hint = ctx.t(
                "如果您代表该机构，请填写其统一社会信用代码申请认领。所在区域运营方审核通过后，您即成为该机构成员，其资源和进行中的对接转由您处理。",
                "If you represent this organisation, claim it with its unified social credit code. Once its region's operator approves, you become its member and its listings and open deals pass to you."
            ),
            l_uscc = ctx.t("统一社会信用代码", "Unified social credit code"),
            l_note = ctx.t("说明（可选）：您在该机构的身份、如何核实", "Note (optional): your role in the organisation, how to verify it"),
            submit = ctx.t("认领此机构", "Claim this organisation"),
        );
    }
    html.push_str("</section>");
    html
}

/// Form of `POST /orgs/claims`.
#[derive(Debug, Deserialize)]
pub struct ClaimForm {
    /// The organisation's name, as its listings carry it.
    #[serde(default)]
    pub org: String,
    /// Its unified social credit code.
    #[serde(default)]
    pub uscc: String,
    #[serde(default)]
    pub note: String,
    /// The listing the form was on (where a refusal leads back to), if any.
    #[serde(default)]
    pub listing: String,
}

/// `POST /orgs/claims` (认领此机构): a member account of no organisation claims the organisation
/// a listing names, then goes to its claims on the account page.
pub async fn create(ctx: PageCtx, State(state): State<AppState>, Form(form): Form<ClaimForm>) -> Response {
    let back = match form.listing.trim().parse::<ListingId>() {
        Ok(id) => format!("/listings/{id}"),
        Err(_) => "/account#claims".to_string(),
    };
    let actor = ctx.caller.actor();
    let org = OrgRef::Name(form.org);
    let created = state.blocking(move |app| Ok(app.claim_org(&actor, org, &form.uscc, &form.note)?)).await;
    match created {
        Ok(claim) => {
            tracing::info!(claim.id = claim.id, org.name = %claim.org_name, "claim opened from the listing page");
            see_other("/account#claims")
        }
        Err(ApiError::BadRequest { detail, field }) => {
            let prefix = match field.as_deref() {
                Some("uscc") => ctx.t(
                    "统一社会信用代码有误，请核对后重新填写",
                    "The unified social credit code is not right; check it and try again",
                ),
                _ => ctx.t("认领申请未提交", "The claim was not sent"),
            };
            ctx.refused(StatusCode::BAD_REQUEST, &format!("{prefix}（{detail}）"), &back)
        }
        Err(ApiError::Conflict(detail)) => {
            let message = format!("{}（{detail}）", ctx.t("认领申请未提交", "The claim was not sent"));
            ctx.refused(StatusCode::CONFLICT, &message, &back)
        }
        Err(err) => ctx.error_page(err),
    }
}

/// Form of `POST /account/claims/{id}`.
#[derive(Debug, Deserialize)]
pub struct ClaimDecisionForm {
    /// `approve`, `reject` or `withdraw`.
    #[serde(default)]
    pub decision: String,
    /// Required to reject; the claimant reads it.
    #[serde(default)]
    pub reason: String,
}

/// `POST /account/claims/{id}`: the region's operator (or the platform admin) approves or
/// rejects a claim, or the claimant withdraws it, then back to the account page.
pub async fn decide(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(form): Form<ClaimDecisionForm>,
) -> Response {
    let Ok(id) = raw_id.parse::<i64>() else {
        return ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这条认领申请：", "No such claim: ")));
    };
    let event = match form.decision.as_str() {
        "approve" => ClaimEvent::Approve,
        "reject" => ClaimEvent::Reject,
        "withdraw" => ClaimEvent::Withdraw,
        other => {
            let message = format!("{}（{other:?}）", ctx.t("未知的处理结果", "Unknown decision"));
            return ctx.refused(StatusCode::BAD_REQUEST, &message, "/account#claims");
        }
    };
    let actor = ctx.caller.actor();
    let reason = form.reason;
    match state.blocking(move |app| Ok(app.decide_claim(&actor, id, event, &reason)?)).await {
        Ok(claim) => {
            tracing::info!(claim.id = claim.id, claim.state = %claim.state, "claim decided on the account page");
            see_other("/account#claims")
        }
        Err(ApiError::BadRequest { .. }) => {
            let message = ctx.t(
                "驳回认领时请填写理由（会告知申请人），然后再点“驳回”。",
                "To reject a claim, write a reason (the claimant reads it), then press Reject again.",
            );
            ctx.refused(StatusCode::BAD_REQUEST, message, "/account#claims")
        }
        Err(ApiError::Conflict(detail)) => {
            let message = format!("{}（{detail}）", ctx.t("这条认领申请已处理过", "This claim was already decided"));
            ctx.refused(StatusCode::CONFLICT, &message, "/account#claims")
        }
        Err(err) => ctx.error_page(err),
    }
}

/// The state of a claim in words.
pub fn state_label(ctx: &PageCtx, state: ClaimState) -> &'static str {
    match state {
        ClaimState::Pending => ctx.t("待审核", "Pending"),
        ClaimState::Approved => ctx.t("已通过", "Approved"),
        ClaimState::Rejected => ctx.t("未通过", "Rejected"),
        ClaimState::Withdrawn => ctx.t("已撤回", "Withdrawn"),
    }
}

/// The account page's panel 机构认领: the user's own claims and, for region operators and the
/// platform admin, the claims they decide (pending first).
pub fn account_panel(ctx: &PageCtx, principal: &Principal, claims: &[Claim]) -> String {
    let heading = ctx.t("机构认领", "Organisation claims");
    let (own, others): (Vec<&Claim>, Vec<&Claim>) = claims.iter().partition(|claim| claim.user_id == principal.user_id);
    let decides = matches!(principal.role, Role::PlatformAdmin | Role::RegionOperator);
    let mut html = String::new();
    if !own.is_empty() {
        let _ = write!(html, r#"<h3 id="claims-own-h">{}</h3>"#, ctx.t("我的认领申请", "My claims"));
        html.push_str(&own_claims(ctx, &own));
    }
    if decides {
        let _ = write!(
            html,
            r#"<h3 id="claims-decide-h">{}</h3><p class="hint">{}</p>"#,
            ctx.t("待我审核的认领", "Claims I decide"),
            ctx.t(
                "“通过”后申请人成为该机构成员，机构的资源和进行中的对接转由其处理；“驳回”需填写理由，理由会告知申请人。",
                "Approving makes the claimant a member: the organisation's listings and open deals pass to them. Rejecting needs a reason, which the claimant reads."
            ),
        );
        if others.is_empty() {
            let _ = write!(
                html,
                r#"<p id="claims-decide-empty">{}</p>"#,
                ctx.t("暂无需要审核的认领申请。", "No claims to decide.")
            );
        } else {
            let mut sorted = others;
            sorted.sort_by_key(|claim| (claim.state != ClaimState::Pending, std::cmp::Reverse(claim.id)));
            html.push_str(&decided_claims(ctx, &sorted));
        }
    }
    let empty = format!(
        r#"<p id="claims-empty">{}</p>"#,
        ctx.t(
            "暂无认领申请。尚未入驻平台的机构的资源页面上可以认领该机构（需为不属于任何机构的成员账户）。",
            "No claims. An organisation that has not joined the platform can be claimed on its listings' pages (by a member account of no organisation)."
        )
    );
    panel("claims", heading, "", &empty, (!html.is_empty()).then_some(html))
}

fn own_claims(ctx: &PageCtx, claims: &[&Claim]) -> String {
    let mut rows = String::new();
    for claim in claims {
        let action = if claim.state == ClaimState::Pending {
            format!(
                r#"<form method="post" action="/account/claims/{id}" class="inline-form">{csrf}<input type="hidden" name="decision" value="withdraw"><button type="submit" class="button secondary" id="withdraw-claim-{id}">{label}</button></form>"#,
                id = claim.id,
                csrf = ctx.csrf_input(),
                label = ctx.t("撤回", "Withdraw"),
            )
        } else {
            String::new()
        };
        let _ = write!(
            rows,
            r#"<tr data-claim="{id}" data-state="{s}"><td>{org}</td><td>{uscc}</td><td>{at}</td><td>{state}</td><td class="claim-reason">{reason}</td><td>{action}</td></tr>"#,
            id = claim.id,
            s = claim.state.as_str(),
            org = esc(&claim.org_name),
            uscc = esc(&claim.uscc),
            at = when(claim.created_at),
            state = state_label(ctx, claim.state),
            reason = if claim.state == ClaimState::Rejected { esc(&claim.reason) } else { String::new() },
        );
    }
    let headings = [
        ctx.t("机构", "Organisation"),
        ctx.t("统一社会信用代码", "Credit code"),
        ctx.t("申请时间", "Asked"),
        ctx.t("状态", "State"),
        ctx.t("驳回理由", "Reason"),
        ctx.t("操作", "Action"),
    ];
    data_table(&headings, &rows)
}

fn decided_claims(ctx: &PageCtx, claims: &[&Claim]) -> String {
    let mut rows = String::new();
    for claim in claims {
        let action = if claim.state == ClaimState::Pending {
            format!(
                r#"<form method="post" action="/account/claims/{id}" class="inline-form">{csrf}<input type="hidden" name="decision" value="approve"><button type="submit" id="approve-claim-{id}">{approve}</button></form> <form method="post" action="/account/claims/{id}" class="inline-form review-form">{csrf}<input type="hidden" name="decision" value="reject"><label for="claim-reason-{id}" class="visually-hidden">{l_reason}</label><input type="text" id="claim-reason-{id}" name="reason" placeholder="{l_reason}" maxlength="500" required> <button type="submit" class="button secondary" id="reject-claim-{id}">{reject}</button></form>"#,
                id = claim.id,
                csrf = ctx.csrf_input(),
                approve = ctx.t("通过", "Approve"),
                l_reason = ctx.t("驳回理由", "Reason for rejecting"),
                reject = ctx.t("驳回", "Reject"),
            )
        } else if claim.state == ClaimState::Rejected {
            esc(&claim.reason)
        } else {
            String::new()
        };
        let _ = write!(
            rows,
            r#"<tr data-claim="{id}" data-state="{s}"><td>{org}</td><td>{claimant}</td><td>{uscc}</td><td>{note}</td><td>{at}</td><td>{state}</td><td>{action}</td></tr>"#,
            id = claim.id,
            s = claim.state.as_str(),
            org = esc(&claim.org_name),
            claimant = esc(&claim.username),
            uscc = esc(&claim.uscc),
            note = esc(&claim.note),
            at = when(claim.created_at),
            state = state_label(ctx, claim.state),
        );
    }
    let headings = [
        ctx.t("机构", "Organisation"),
        ctx.t("申请人", "Claimant"),
        ctx.t("统一社会信用代码", "Credit code"),
        ctx.t("说明", "Note"),
        ctx.t("申请时间", "Asked"),
        ctx.t("状态", "State"),
        ctx.t("处理", "Decision"),
    ];
    data_table(&headings, &rows)
}
