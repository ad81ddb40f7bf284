//! Bookable facilities on the pages (`app::booking` ↔ `api::booking` ↔ `web::booking`): the
//! facility page's booking section (a week of free capacity, the calendar's terms and the
//! booking request form; for the facility's operator the calendar settings and clearance
//! forms), the operator's approval queue (`/bookings/queue`), the forms of booking events, the
//! account page's bookings and vouchers panels with the voucher issuing form, and a voucher's
//! ledger (`/vouchers/{id}`). Times are Beijing time; prices in 元, vouchers in 万元.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use time::{Date, OffsetDateTime};
use xietong_app::App;
use xietong_app::booking::{BookingRequest, VoucherInput, acting};
use xietong_app::types::{Availability, Booking, Clearance, FacilityCalendar, LedgerEntry, Voucher};
use xietong_domain::booking::{
    self, Acting, BookingEvent, BookingState, Calendar, DAY_MS, HOUR_MS, Unit, Weekday, allowed_events,
};
use xietong_domain::voucher::{accepts, fen_to_wan, fen_to_yuan};
use xietong_domain::{Listing, ListingId, Principal, Role};

use super::account::{data_table, panel, safe_next};
use super::{Lang, PageCtx, esc, fmt_num, labels, see_other};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The booking section of a facility page: its calendar (`None`: not bookable yet), the week
/// shown and what the viewer may do.
pub struct FacilitySection {
    calendar: Option<FacilityCalendar>,
    /// Monday of the week shown.
    week: Date,
    /// Free capacity of that week's open slots.
    availability: Option<Availability>,
    /// The viewer operates the facility.
    operator: bool,
    /// Vouchers of the viewer's organisation usable at this facility now.
    vouchers: Vec<Voucher>,
    /// The facility's clearances (its operator only).
    clearances: Vec<Clearance>,
}

/// Today in Beijing.
fn today() -> Date {
    OffsetDateTime::now_utc().to_offset(booking::beijing()).date()
}

/// The Monday of the week holding `day`.
fn monday_of(day: Date) -> Date {
    day - time::Duration::days(i64::from(day.weekday().number_days_from_monday()))
}

/// An instant as `YYYY-MM-DD HH:MM`, Beijing time.
fn bj(at: i64) -> String {
    let text = booking::fmt_beijing(at);
    text.get(..16).unwrap_or(&text).replace('T', " ")
}

fn unit_label(unit: Unit, lang: Lang) -> &'static str {
    lang.t(unit.label_zh(), unit.as_str())
}

fn weekday_label(weekday: Weekday, lang: Lang) -> &'static str {
    let en = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][weekday as usize];
    lang.t(weekday.label_zh(), en)
}

fn weekday_code(weekday: Weekday) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][weekday as usize]
}

/// The label of a booking state.
pub fn state_label(state: BookingState, lang: Lang) -> &'static str {
    lang.t(state.label_zh(), state.label_en())
}

fn event_label(name: &str, lang: Lang) -> &'static str {
    let (zh, en) = match name {
        "approve" => ("批准", "Approve"),
        "decline" => ("拒绝", "Decline"),
        "cancel" => ("取消预约", "Cancel"),
        "complete" => ("标记完成", "Mark completed"),
        "no_show" => ("标记未到", "Mark no-show"),
        _ => ("改期", "Reschedule"),
    };
    lang.t(zh, en)
}

/// Loads the booking section of a facility page for the caller; `week` is any day of the week
/// to show (`YYYY-MM-DD`, default this week).
pub fn load_section(app: &App, caller: &Caller, facility: &Listing, week: Option<&str>) -> ApiResult<FacilitySection> {
    let actor = caller.actor();
    let calendar = app.facility_calendar(&actor, facility.id)?;
    let week = week.and_then(|text| xietong_domain::Day::parse(text).ok()).map_or_else(today, |day| day.0);
    let week = monday_of(week);
    let operator = caller.principal().is_some_and(|p| App::operates_facility(p, facility));
    let availability = match &calendar {
        Some(_) => Some(app.availability(&actor, facility.id, week, week + time::Duration::days(6))?),
        None => None,
    };
    let now = booking::to_ms(OffsetDateTime::now_utc());
    let vouchers = match caller.principal() {
        Some(principal) if principal.org.is_some() && calendar.is_some() => app
            .vouchers(&actor)?
            .into_iter()
            .filter(|v| principal.org.as_deref() == Some(v.organisation.as_str()))
            .filter(|v| v.valid_until >= now && v.balance_fen > 0)
            .filter(|v| accepts(&v.accepted_regions, &facility.body.region_codes))
            .collect(),
        _ => Vec::new(),
    };
    let clearances = if operator && calendar.is_some() { app.clearances(&actor, facility.id)? } else { Vec::new() };
    Ok(FacilitySection { calendar, week, availability, operator, vouchers, clearances })
}

/// The booking section of a facility page (`#booking`); empty for a facility without a
/// calendar unless the viewer operates it (who then sees the settings form).
pub fn render_section(ctx: &PageCtx, facility: &Listing, section: &FacilitySection, booked: Option<&str>) -> String {
    let Some(stored) = &section.calendar else {
        if !section.operator {
            return String::new();
        }
        return format!(
            r#"<section class="panel" id="booking" aria-labelledby="booking-h"><h2 id="booking-h">{h}</h2><p class="empty-small" id="no-calendar">{p}</p>{form}</section>"#,
            h = ctx.t("预约", "Booking"),
            p = ctx.t(
                "该设施尚未开放预约。设置预约日历后，京津冀的企业即可在此查看空闲产能并提交预约。",
                "This facility cannot be booked yet. Set its calendar and enterprises of the region can see its free capacity and book it here."
            ),
            form = calendar_form(ctx, facility.id, None),
        );
    };
    let calendar = &stored.calendar;
    let lang = ctx.lang;
    let mut html = format!(
        r#"<section class="panel" id="booking" aria-labelledby="booking-h"><h2 id="booking-h">{}</h2>"#,
        ctx.t("预约", "Booking")
    );
    if let Some(state) = booked {
        let label = state.parse::<BookingState>().map(|s| state_label(s, lang)).unwrap_or("");
        let text = if state == "waitlisted" {
            ctx.t(
                "已加入候补：有名额空出时按顺序转为待审批。",
                "You are on the waitlist: when capacity frees, waitlisted bookings move up in order.",
            )
        } else {
            ctx.t("预约已提交，等待设施运营方审批。", "Your booking was sent; the facility's operator decides on it.")
        };
        let _ = write!(
            html,
            r#"<p class="notice ok" role="status" id="booking-sent" data-state="{state}">{text} <span class="badge state-{state}">{label}</span> <a href="/account#bookings">{mine}</a></p>"#,
            state = esc(state),
            mine = ctx.t("查看我的预约", "See my bookings"),
        );
    }
    // The calendar's terms.
    let hours = if calendar.opening_hours.is_empty() {
        ctx.t("全天开放", "Open at all hours").to_string()
    } else {
        calendar
            .opening_hours
            .iter()
            .map(|h| format!("{} {}–{}", weekday_label(h.weekday, lang), h.open, h.close))
            .collect::<Vec<_>>()
            .join("；")
    };
    let _ = write!(
        html,
        r#"<dl class="fields" id="calendar-terms"><div><dt>{l_unit}</dt><dd data-unit="{unit}">{unit_label}</dd></div><div><dt>{l_cap}</dt><dd id="calendar-capacity">{cap}</dd></div><div><dt>{l_price}</dt><dd id="calendar-price">¥{price} / {unit_label}</dd></div><div><dt>{l_hours}</dt><dd id="calendar-hours">{hours}</dd></div><div><dt>{l_len}</dt><dd>{min}–{max} {unit_label}</dd></div><div><dt>{l_lead}</dt><dd>{lead} {h}</dd></div><div><dt>{l_clear}</dt><dd id="calendar-clearance" data-required="{req}">{clear}</dd></div><div><dt>{l_cancel}</dt><dd>{cancel}</dd></div></dl>"#,
        l_unit = ctx.t("计量单位", "Unit"),
        unit = calendar.unit.as_str(),
        unit_label = unit_label(calendar.unit, lang),
        l_cap = ctx.t("可同时使用", "Capacity"),
        cap = calendar.capacity,
        l_price = ctx.t("单价", "Price"),
        price = fmt_num(calendar.price_per_unit),
        l_hours = ctx.t("开放时间（北京时间）", "Opening hours (Beijing time)"),
        hours = esc(&hours),
        l_len = ctx.t("单次预约时长", "Booking length"),
        min = calendar.min_length,
        max = calendar.max_length,
        l_lead = ctx.t("提前预约", "Lead time"),
        lead = calendar.lead_time_hours,
        h = ctx.t("小时", "hours"),
        l_clear = ctx.t("安全准入", "Clearance"),
        req = calendar.requires_clearance,
        clear = if calendar.requires_clearance {
            ctx.t("需要：须由运营方授予有效的准入资格", "Required: the operator grants it")
        } else {
            ctx.t("不需要", "Not required")
        },
        l_cancel = ctx.t("取消规则", "Cancellation"),
        cancel = esc(ctx.t(
            &format!("开始前 {} 小时以上取消免费，之后照常收费", calendar.free_cancellation_hours),
            &format!("free until {} hours before the start, charged afterwards", calendar.free_cancellation_hours),
        )),
    );
    if let Some(availability) = &section.availability {
        html.push_str(&week_view(ctx, facility.id, calendar, section.week, availability));
    }
    html.push_str(&request_form(ctx, facility, calendar, section));
    if section.operator {
        let _ = write!(
            html,
            r#"<details class="operator-tools" id="operator-tools"><summary>{s}</summary><p><a href="/bookings/queue">{queue}</a> · <a href="/api/v1/facilities/{id}/calendar.ics">{ics}</a></p>{cal}{clear}</details>"#,
            s = ctx.t("运营方设置", "Operator settings"),
            queue = ctx.t("预约审批队列", "Approval queue"),
            id = facility.id,
            ics = ctx.t("订阅日历（iCalendar）", "Calendar feed (iCalendar)"),
            cal = calendar_form(ctx, facility.id, Some(calendar)),
            clear = clearance_form(ctx, facility.id, &section.clearances),
        );
    }
    html.push_str("</section>");
    html
}

/// A week (Monday to Sunday) of free capacity: days across, slots down, each cell the free
/// units; full cells are marked, closed ones show a dash.
fn week_view(ctx: &PageCtx, id: ListingId, calendar: &Calendar, week: Date, availability: &Availability) -> String {
    let lang = ctx.lang;
    let by_start: BTreeMap<i64, &xietong_app::types::Slot> = availability.slots.iter().map(|s| (s.start, s)).collect();
    let days: Vec<Date> = (0..7).map(|n| week + time::Duration::days(n)).collect();
    // Rows: the hours of the day that are open on some day of the week, or one row for a
    // calendar booked by the day.
    let offsets: Vec<i64> = match calendar.unit {
        Unit::Hour => (0..24)
            .map(|hour| hour * HOUR_MS)
            .filter(|offset| days.iter().any(|day| by_start.contains_key(&(booking::day_start(*day) + offset))))
            .collect(),
        Unit::Day | Unit::Batch => vec![0],
    };
    let mut head = format!(r#"<th scope="col">{}</th>"#, ctx.t("时段", "Slot"));
    for day in &days {
        let weekday = Weekday::ALL[usize::from(day.weekday().number_days_from_monday())];
        let _ = write!(
            head,
            r#"<th scope="col" data-day="{day}">{w}<br><span class="meta">{md}</span></th>"#,
            w = weekday_label(weekday, lang),
            md = format_args!("{:02}-{:02}", u8::from(day.month()), day.day()),
        );
    }
    let mut rows = String::new();
    for offset in &offsets {
        let label = match calendar.unit {
            Unit::Hour => format!("{:02}:00–{:02}:00", offset / HOUR_MS, offset / HOUR_MS + 1),
            Unit::Day | Unit::Batch => ctx.t("全天", "All day").to_string(),
        };
        let _ = write!(rows, r#"<tr><th scope="row">{label}</th>"#);
        for day in &days {
            let start = booking::day_start(*day) + offset;
            match by_start.get(&start) {
                Some(slot) if slot.free == 0 => {
                    let _ = write!(
                        rows,
                        r#"<td class="slot full" data-start="{at}" data-free="0" title="{t}">{full}</td>"#,
                        at = booking::fmt_beijing(start),
                        t = ctx.t("已约满", "Fully booked"),
                        full = ctx.t("满", "full"),
                    );
                }
                Some(slot) => {
                    let _ = write!(
                        rows,
                        r#"<td class="slot free" data-start="{at}" data-free="{free}" title="{t}">{free}/{cap}</td>"#,
                        at = booking::fmt_beijing(start),
                        free = slot.free,
                        cap = slot.capacity,
                        t = ctx.t("空闲/总量", "free/capacity"),
                    );
                }
                None => rows.push_str(r#"<td class="slot closed">—</td>"#),
            }
        }
        rows.push_str("</tr>");
    }
    if offsets.is_empty() {
        let _ = write!(rows, r#"<tr><td colspan="8">{}</td></tr>"#, ctx.t("本周不开放。", "Closed all week."));
    }
    let previous = week - time::Duration::days(7);
    let next = week + time::Duration::days(7);
    let last = week + time::Duration::days(6);
    format!(
        r##"<h3 id="week-h">{h} <span class="meta">{week} – {last}</span></h3><p class="week-nav"><a id="week-prev" href="/listings/{id}?week={previous}#booking">← {prev}</a> · <a id="week-this" href="/listings/{id}#booking">{this}</a> · <a id="week-next" href="/listings/{id}?week={next}#booking">{nxt} →</a></p><p class="hint">{hint}</p><div class="table-scroll"><table class="data-table week-view" id="week-view" data-week="{week}" aria-describedby="week-h"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"##,
        h = ctx.t("本周空闲产能", "Free capacity this week"),
        prev = ctx.t("上一周", "Previous week"),
        this = ctx.t("本周", "This week"),
        nxt = ctx.t("下一周", "Next week"),
        hint = ctx.t(
            "北京时间；格内为空闲数量/总量（计入待审批与已批准的预约），“满”为已约满，“—”为不开放。",
            "Beijing time; each cell is free/capacity (counting requested and approved bookings), “full” when nothing is free, “—” when closed."
        ),
    )
}

fn request_form(ctx: &PageCtx, facility: &Listing, calendar: &Calendar, section: &FacilitySection) -> String {
    let heading = format!(r#"<h3 id="book-h">{}</h3>"#, ctx.t("提交预约", "Request a booking"));
    let Some(principal) = ctx.caller.principal() else {
        return format!(
            r#"{heading}<p class="hint" id="booking-login"><a href="{href}">{login}</a></p>"#,
            href = esc(&ctx.login_href()),
            login = ctx.t("登录后提交预约", "Log in to book"),
        );
    };
    let (input_type, start_label, end_label) = match calendar.unit {
        Unit::Hour => {
            ("datetime-local", ctx.t("开始（整点）", "Start (on the hour)"), ctx.t("结束（整点）", "End (on the hour)"))
        }
        Unit::Day | Unit::Batch => {
            ("date", ctx.t("开始日期", "First day"), ctx.t("结束日期（含当天）", "Last day (included)"))
        }
    };
    let mut voucher_options = format!(r#"<option value="">{}</option>"#, ctx.t("不使用创新券", "No voucher"));
    for voucher in &section.vouchers {
        let _ = write!(
            voucher_options,
            r#"<option value="{id}">#{id} {region} · {left} {wan}</option>"#,
            id = voucher.id,
            region = esc(&labels::region_short(&voucher.issuing_region, ctx.lang)),
            left = fmt_num(fen_to_wan(voucher.balance_fen)),
            wan = ctx.t("万元可用", "×10,000 CNY left"),
        );
    }
    let voucher_hint = if principal.org.is_none() {
        ctx.t(
            "您的账户不属于任何机构，无法使用创新券。",
            "Your account belongs to no organisation, so it has no vouchers.",
        )
    } else if section.vouchers.is_empty() {
        ctx.t("本机构暂无可在此使用的创新券。", "Your organisation has no voucher usable here.")
    } else {
        ctx.t("创新券按余额抵扣费用：提交时预留，完成后核销，取消或被拒绝时退回。", "A voucher covers the charge up to its balance: reserved now, spent on completion, released on cancellation or decline.")
    };
    format!(
        r#"{heading}<form method="post" action="/listings/{id}/bookings" class="booking-form" id="booking-form">{csrf}<input type="hidden" name="week" value="{week}">
<div class="field"><label for="booking-start">{start_label}</label><input type="{input_type}" id="booking-start" name="start" required></div>
<div class="field"><label for="booking-end">{end_label}</label><input type="{input_type}" id="booking-end" name="end" required></div>
<div class="field"><label for="booking-quantity">{l_qty}</label><input type="number" id="booking-quantity" name="quantity" min="1" max="{cap}" value="1" required></div>
<div class="field"><label for="booking-purpose">{l_purpose}</label><textarea id="booking-purpose" name="purpose" rows="2" maxlength="2000"></textarea></div>
<div class="field"><label for="booking-voucher">{l_voucher}</label><select id="booking-voucher" name="voucher_id">{voucher_options}</select><p class="hint">{voucher_hint}</p></div>
<div class="field"><label><input type="checkbox" id="booking-waitlist" name="waitlist" value="1"> {l_wait}</label></div>
<p><button type="submit" id="booking-submit">{submit}</button></p></form>"#,
        id = facility.id,
        csrf = ctx.csrf_input(),
        week = section.week,
        l_qty = ctx.t("数量", "Quantity"),
        cap = calendar.capacity,
        l_purpose = ctx.t("用途", "Purpose"),
        l_voucher = ctx.t("创新券", "Innovation voucher"),
        l_wait = ctx.t("已约满时加入候补", "Join the waitlist when full"),
        submit = ctx.t("提交预约", "Request booking"),
    )
}

/// The calendar settings form (its operator), filled with the current calendar if any.
fn calendar_form(ctx: &PageCtx, id: ListingId, calendar: Option<&Calendar>) -> String {
    let lang = ctx.lang;
    let unit = calendar.map_or(Unit::Day, |c| c.unit);
    let units: String = Unit::ALL
        .iter()
        .map(|u| {
            let selected = if *u == unit { " selected" } else { "" };
            format!(r#"<option value="{}"{selected}>{}</option>"#, u.as_str(), unit_label(*u, lang))
        })
        .collect();
    let mut hours = String::new();
    for weekday in Weekday::ALL {
        let (open, close) = calendar
            .and_then(|c| c.opening_hours.iter().find(|h| h.weekday == weekday))
            .map(|h| (h.open.to_string(), h.close.to_string()))
            .unwrap_or_default();
        let code = weekday_code(weekday);
        let _ = write!(
            hours,
            r#"<tr><th scope="row">{w}</th><td><input name="open_{code}" value="{open}" placeholder="08:00" size="5" pattern="\d\d:\d\d" aria-label="{w} {lo}"></td><td><input name="close_{code}" value="{close}" placeholder="18:00" size="5" pattern="\d\d:\d\d" aria-label="{w} {lc}"></td></tr>"#,
            w = weekday_label(weekday, lang),
            lo = ctx.t("开门", "opens"),
            lc = ctx.t("关门", "closes"),
        );
    }
    let closures: String = calendar
        .map(|c| {
            c.closures
                .iter()
                .map(|closure| {
                    let format = time::format_description::well_known::Rfc3339;
                    format!(
                        "{} | {} | {}\n",
                        closure.start.format(&format).unwrap_or_default(),
                        closure.end.format(&format).unwrap_or_default(),
                        closure.reason
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let number = |value: Option<String>, default: &str| value.unwrap_or_else(|| default.to_string());
    format!(
        r#"<form method="post" action="/listings/{id}/calendar" class="calendar-form" id="calendar-form">{csrf}<h3>{h}</h3>
<div class="field"><label for="cal-unit">{l_unit}</label><select id="cal-unit" name="unit">{units}</select></div>
<div class="field"><label for="cal-capacity">{l_cap}</label><input type="number" id="cal-capacity" name="capacity" min="1" max="10000" value="{cap}" required></div>
<div class="field"><label for="cal-price">{l_price}</label><input type="number" id="cal-price" name="price_per_unit" min="0" step="0.01" value="{price}" required></div>
<div class="field"><label for="cal-min">{l_min}</label><input type="number" id="cal-min" name="min_length" min="1" value="{min}"></div>
<div class="field"><label for="cal-max">{l_max}</label><input type="number" id="cal-max" name="max_length" min="1" value="{max}"></div>
<div class="field"><label for="cal-lead">{l_lead}</label><input type="number" id="cal-lead" name="lead_time_hours" min="0" value="{lead}"></div>
<div class="field"><label for="cal-free">{l_free}</label><input type="number" id="cal-free" name="free_cancellation_hours" min="0" value="{free}"></div>
<div class="field"><label><input type="checkbox" name="requires_clearance" value="1"{clear}> {l_clear}</label></div>
<fieldset><legend>{l_hours}</legend><p class="hint">{hint_hours}</p><table class="data-table"><tbody>{hours}</tbody></table></fieldset>
<div class="field"><label for="cal-closures">{l_closures}</label><textarea id="cal-closures" name="closures" rows="3" placeholder="2027-03-01T08:00:00+08:00 | 2027-03-02T08:00:00+08:00 | 设备检修">{closures}</textarea><p class="hint">{hint_closures}</p></div>
<p><button type="submit" id="calendar-submit">{submit}</button></p></form>"#,
        csrf = ctx.csrf_input(),
        h = ctx.t("预约日历设置", "Booking calendar"),
        l_unit = ctx.t("计量单位", "Unit"),
        l_cap = ctx.t("可同时使用数量", "Capacity (units at once)"),
        cap = number(calendar.map(|c| c.capacity.to_string()), "1"),
        l_price = ctx.t("单价（元/单位）", "Price per unit (CNY)"),
        price = number(calendar.map(|c| fmt_num(c.price_per_unit)), "0"),
        l_min = ctx.t("最短预约（单位数）", "Shortest booking (units)"),
        min = number(calendar.map(|c| c.min_length.to_string()), "1"),
        l_max = ctx.t("最长预约（单位数）", "Longest booking (units)"),
        max = number(calendar.map(|c| c.max_length.to_string()), "14"),
        l_lead = ctx.t("提前预约（小时）", "Lead time (hours)"),
        lead = number(calendar.map(|c| c.lead_time_hours.to_string()), "24"),
        l_free = ctx.t("免费取消截止（开始前小时数）", "Free cancellation until (hours before)"),
        free = number(calendar.map(|c| c.free_cancellation_hours.to_string()), "24"),
        clear = if calendar.is_some_and(|c| c.requires_clearance) { " checked" } else { "" },
        l_clear = ctx.t("需要安全准入", "Requires a clearance"),
        l_hours =
            ctx.t("开放时间（北京时间，HH:MM，可填 24:00）", "Opening hours (Beijing time, HH:MM, 24:00 allowed)"),
        hint_hours = ctx.t(
            "留空的日子不开放；全部留空表示全天开放。",
            "Days left empty are closed; all empty means open at all hours."
        ),
        l_closures = ctx.t("停用时段（每行：开始 | 结束 | 原因）", "Closures (one a line: start | end | reason)"),
        hint_closures = ctx.t("时间采用 RFC 3339 格式。", "Times in RFC 3339."),
        submit = ctx.t("保存日历", "Save the calendar"),
    )
}

fn clearance_form(ctx: &PageCtx, id: ListingId, clearances: &[Clearance]) -> String {
    let mut rows = String::new();
    for clearance in clearances {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&clearance.username),
            bj(clearance.valid_until),
            esc(&clearance.granted_by)
        );
    }
    let table = if rows.is_empty() {
        format!(r#"<p class="empty-small">{}</p>"#, ctx.t("暂无准入记录。", "No clearances yet."))
    } else {
        data_table(
            &[ctx.t("用户名", "Username"), ctx.t("有效期至", "Valid until"), ctx.t("授予人", "Granted by")],
            &rows,
        )
    };
    format!(
        r#"<form method="post" action="/listings/{id}/clearances" class="clearance-form" id="clearance-form">{csrf}<h3>{h}</h3>{table}
<div class="field"><label for="clear-user">{l_user}</label><input id="clear-user" name="username" required maxlength="64"></div>
<div class="field"><label for="clear-until">{l_until}</label><input type="date" id="clear-until" name="valid_until" required></div>
<p><button type="submit" id="clearance-submit">{submit}</button></p></form>"#,
        csrf = ctx.csrf_input(),
        h = ctx.t("安全准入", "Clearances"),
        l_user = ctx.t("用户名", "Username"),
        l_until = ctx.t("有效期至（含当天）", "Valid until (day included)"),
        submit = ctx.t("授予准入", "Grant clearance"),
    )
}

/// A `datetime-local` (`YYYY-MM-DDTHH:MM`, Beijing time), a date (`YYYY-MM-DD`: its midnight,
/// or the next midnight when `last_day`) or RFC 3339.
fn parse_instant(field: &str, text: &str, last_day: bool) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    let rfc3339 = time::format_description::well_known::Rfc3339;
    if let Ok(day) = xietong_domain::Day::parse(text) {
        let start = booking::day_start(day.0) + if last_day { DAY_MS } else { 0 };
        return Ok(booking::to_datetime(start));
    }
    let full = if text.len() == 16 { format!("{text}:00+08:00") } else { text.to_string() };
    OffsetDateTime::parse(&full, &rfc3339).map_err(|_| format!("{field}: {text:?} is not a date and time"))
}

/// Form of `POST /listings/{id}/bookings`.
#[derive(Debug, Default, Deserialize)]
pub struct BookingForm {
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub end: String,
    #[serde(default)]
    pub quantity: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub voucher_id: String,
    #[serde(default)]
    pub waitlist: String,
    /// The week the page showed (`YYYY-MM-DD`), shown again afterwards.
    #[serde(default)]
    pub week: String,
}

impl BookingForm {
    fn request(&self) -> Result<BookingRequest, String> {
        let by_day = self.end.trim().len() == 10;
        let start = parse_instant("start", &self.start, false)?;
        let end = parse_instant("end", &self.end, by_day)?;
        let quantity = match self.quantity.trim() {
            "" => 1,
            text => text.parse().map_err(|_| format!("quantity: {text:?} is not a whole number"))?,
        };
        let voucher_id = match self.voucher_id.trim() {
            "" => None,
            text => Some(text.parse().map_err(|_| format!("voucher_id: {text:?} is not a voucher"))?),
        };
        Ok(BookingRequest {
            start,
            end,
            quantity,
            purpose: self.purpose.clone(),
            voucher_id,
            waitlist: !self.waitlist.trim().is_empty(),
        })
    }
}

/// The 404 page of a listing id that does not parse.
fn no_listing(ctx: &PageCtx, raw_id: &str) -> Response {
    ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这条资源：", "No such listing: ")))
}

/// A refusal of a booking form as a page with the reason (the first full slot, the closed
/// hour, the missing clearance); other failures as the usual error pages.
fn refused(ctx: &PageCtx, err: ApiError, prefix_zh: &str, prefix_en: &str, back: &str) -> Response {
    let prefix = ctx.t(prefix_zh, prefix_en);
    match err {
        ApiError::Conflict(detail) => ctx.refused(StatusCode::CONFLICT, &format!("{prefix}：{detail}"), back),
        ApiError::BadRequest { detail, .. } => {
            ctx.refused(StatusCode::BAD_REQUEST, &format!("{prefix}：{detail}"), back)
        }
        ApiError::Forbidden(detail) => ctx.refused(StatusCode::FORBIDDEN, &format!("{prefix}：{detail}"), back),
        other => ctx.error_page(other),
    }
}

/// `POST /listings/{id}/bookings`: books the facility, then back to its page with the outcome.
pub async fn request_booking(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(form): Form<BookingForm>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else { return no_listing(&ctx, &raw_id) };
    let back = format!("/listings/{id}#booking");
    let request = match form.request() {
        Ok(request) => request,
        Err(detail) => return ctx.refused(StatusCode::BAD_REQUEST, &detail, &back),
    };
    let week = match xietong_domain::Day::parse(form.week.trim()) {
        Ok(day) => format!("&week={}", day.0),
        Err(_) => String::new(),
    };
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.request_booking(&actor, id, request)?)).await {
        Ok(booking) => {
            tracing::info!(listing.id = %id, booking.id = booking.id, "booking requested from the facility page");
            see_other(&format!("/listings/{id}?booked={}{week}#booking", booking.state.as_str()))
        }
        Err(err) => refused(&ctx, err, "预约未提交", "The booking was not made", &back),
    }
}

/// Form of `POST /listings/{id}/calendar`.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarForm {
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub capacity: String,
    #[serde(default)]
    pub price_per_unit: String,
    #[serde(default)]
    pub min_length: String,
    #[serde(default)]
    pub max_length: String,
    #[serde(default)]
    pub lead_time_hours: String,
    #[serde(default)]
    pub free_cancellation_hours: String,
    #[serde(default)]
    pub requires_clearance: String,
    #[serde(default)]
    pub closures: String,
    #[serde(flatten)]
    pub hours: BTreeMap<String, String>,
}

impl CalendarForm {
    /// The calendar in the API's shape, checked by its own deserialiser.
    fn calendar(&self) -> Result<Calendar, String> {
        let number = |field: &str, text: &str| -> Result<Option<serde_json::Value>, String> {
            match text.trim() {
                "" => Ok(None),
                text => text
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .map(|n| Some(if n.fract() == 0.0 { serde_json::json!(n as u64) } else { serde_json::json!(n) }))
                    .ok_or_else(|| format!("{field}: {text:?} is not a number")),
            }
        };
        let mut json = serde_json::json!({
            "unit": self.unit.trim(),
            "requires_clearance": !self.requires_clearance.trim().is_empty(),
        });
        let object = json.as_object_mut().expect("an object");
        for (field, text) in [
            ("capacity", &self.capacity),
            ("price_per_unit", &self.price_per_unit),
            ("min_length", &self.min_length),
            ("max_length", &self.max_length),
            ("lead_time_hours", &self.lead_time_hours),
            ("free_cancellation_hours", &self.free_cancellation_hours),
        ] {
            if let Some(value) = number(field, text)? {
                object.insert(field.into(), value);
            }
        }
        let mut hours = Vec::new();
        for weekday in Weekday::ALL {
            let code = weekday_code(weekday);
            let get = |prefix: &str| {
                self.hours.get(&format!("{prefix}_{code}")).map(|v| v.trim().to_string()).unwrap_or_default()
            };
            let (open, close) = (get("open"), get("close"));
            match (open.is_empty(), close.is_empty()) {
                (true, true) => {}
                (false, false) => hours.push(serde_json::json!({"weekday": code, "open": open, "close": close})),
                _ => return Err(format!("opening_hours: {code} needs both an opening and a closing time")),
            }
        }
        object.insert("opening_hours".into(), hours.into());
        let mut closures = Vec::new();
        for line in self.closures.lines().filter(|l| !l.trim().is_empty()) {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            let [start, end, rest @ ..] = parts.as_slice() else {
                return Err(format!("closures: {line:?} is not “start | end | reason”"));
            };
            closures.push(serde_json::json!({"start": start, "end": end, "reason": rest.join(" | ")}));
        }
        object.insert("closures".into(), closures.into());
        serde_json::from_value(json).map_err(|err| err.to_string())
    }
}

/// `POST /listings/{id}/calendar`: the facility's operator sets its calendar.
pub async fn set_calendar(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(form): Form<CalendarForm>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else { return no_listing(&ctx, &raw_id) };
    let back = format!("/listings/{id}#booking");
    let calendar = match form.calendar() {
        Ok(calendar) => calendar,
        Err(detail) => return ctx.refused(StatusCode::BAD_REQUEST, &detail, &back),
    };
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.set_calendar(&actor, id, calendar)?)).await {
        Ok(_) => see_other(&back),
        Err(ApiError::Forbidden(detail)) => ctx.forbidden(&detail),
        Err(err) => refused(&ctx, err, "日历未保存", "The calendar was not saved", &back),
    }
}

/// Form of `POST /listings/{id}/clearances`.
#[derive(Debug, Default, Deserialize)]
pub struct ClearanceForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub valid_until: String,
}

/// `POST /listings/{id}/clearances`: the facility's operator grants a user a clearance.
pub async fn grant_clearance(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(form): Form<ClearanceForm>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else { return no_listing(&ctx, &raw_id) };
    let back = format!("/listings/{id}#booking");
    // A date is valid through that day.
    let until = match parse_instant("valid_until", &form.valid_until, true) {
        Ok(until) => until - time::Duration::milliseconds(1),
        Err(detail) => return ctx.refused(StatusCode::BAD_REQUEST, &detail, &back),
    };
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.grant_clearance(&actor, id, &form.username, until)?)).await {
        Ok(_) => see_other(&back),
        Err(ApiError::Forbidden(detail)) => ctx.forbidden(&detail),
        Err(err) => refused(&ctx, err, "准入未授予", "The clearance was not granted", &back),
    }
}

/// One booking row with the forms of the events the viewer may send; `back` is where the forms
/// return to.
fn booking_row(ctx: &PageCtx, booking: &Booking, title: Option<&str>, acting: Acting, back: &str, who: bool) -> String {
    let lang = ctx.lang;
    let mut actions = String::new();
    for name in allowed_events(booking.state, acting) {
        if name == "reschedule" {
            continue;
        }
        let reason = match name {
            "decline" => format!(
                r#"<input name="reason" required maxlength="500" placeholder="{}" aria-label="{}">"#,
                ctx.t("拒绝原因", "Reason"),
                ctx.t("拒绝原因", "Reason for declining")
            ),
            _ => String::new(),
        };
        let class = if matches!(name, "decline" | "cancel" | "no_show") { " class=\"button secondary\"" } else { "" };
        let _ = write!(
            actions,
            r#"<form method="post" action="/bookings/{id}/events" class="inline-form booking-event" data-event="{name}">{csrf}<input type="hidden" name="type" value="{name}"><input type="hidden" name="version" value="{version}"><input type="hidden" name="back" value="{back}">{reason}<button type="submit"{class} id="{name}-{id}">{label}</button></form> "#,
            id = booking.id,
            csrf = ctx.csrf_input(),
            version = booking.version,
            back = esc(back),
            label = event_label(name, lang),
        );
    }
    let facility = match title {
        Some(title) => format!(r#"<a href="/listings/{}#booking">{}</a>"#, booking.facility_id, esc(title)),
        None => format!(r#"<span class="meta">{}</span>"#, booking.facility_id),
    };
    let who_cells = if who {
        format!("<td>{}</td><td>{}</td>", esc(&booking.booker), esc(booking.booker_org.as_deref().unwrap_or("—")))
    } else {
        String::new()
    };
    let voucher = if booking.voucher_fen > 0 {
        format!("¥{} (#{})", fmt_num(fen_to_yuan(booking.voucher_fen)), booking.voucher_id.unwrap_or_default())
    } else {
        "—".to_string()
    };
    format!(
        r#"<tr data-booking="{id}" data-state="{state}"><td>#{id}</td>{who_cells}<td>{facility}</td><td>{start} – {end}</td><td class="num">{qty}</td><td class="num">¥{charge}</td><td>{voucher}</td><td><span class="badge state-{state}">{label}</span></td><td>{actions}</td></tr>"#,
        id = booking.id,
        state = booking.state.as_str(),
        start = bj(booking.start),
        end = bj(booking.end),
        qty = booking.quantity,
        charge = fmt_num(fen_to_yuan(booking.charge_fen)),
        label = state_label(booking.state, lang),
    )
}

fn booking_headings(ctx: &PageCtx, who: bool) -> Vec<&str> {
    let mut headings = vec![ctx.t("编号", "No.")];
    if who {
        headings.push(ctx.t("预约人", "Booked by"));
        headings.push(ctx.t("机构", "Organisation"));
    }
    headings.extend([
        ctx.t("设施", "Facility"),
        ctx.t("时间（北京时间）", "Time (Beijing)"),
        ctx.t("数量", "Quantity"),
        ctx.t("费用", "Charge"),
        ctx.t("创新券抵扣", "Voucher share"),
        ctx.t("状态", "State"),
        ctx.t("操作", "Actions"),
    ]);
    headings
}

/// `GET /bookings/queue`: the operator's queue: requested and waitlisted bookings to approve or
/// decline, approved ones to complete or mark as no-shows.
pub async fn queue(ctx: PageCtx, State(state): State<AppState>) -> Response {
    let Some(principal) = ctx.caller.principal().cloned() else { return ctx.login_required() };
    let actor = ctx.caller.actor();
    let loaded = state
        .blocking(move |app| {
            let waiting = app.approval_queue(&actor)?;
            let approved = app.operated_bookings(&actor, &[BookingState::Approved])?;
            Ok((waiting, approved))
        })
        .await;
    let (waiting, approved) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return ctx.error_page(err),
    };
    let mut html = format!(
        r#"<h1>{h}</h1><p class="lead">{lead}</p>"#,
        h = ctx.t("预约审批", "Booking approvals"),
        lead = ctx.t(
            "您运营的设施收到的预约：批准或拒绝待审批与候补的预约，在使用后标记完成或未到。",
            "Bookings of the facilities you operate: approve or decline requested and waitlisted ones, then mark approved ones completed or no-show."
        ),
    );
    for (id, heading, rows, empty) in [
        (
            "queue-waiting",
            ctx.t("待审批与候补", "Requested and waitlisted"),
            &waiting,
            ctx.t("暂无待审批的预约。", "Nothing waits for a decision."),
        ),
        (
            "queue-approved",
            ctx.t("已批准（待完成）", "Approved (to complete)"),
            &approved,
            ctx.t("暂无已批准的预约。", "No approved bookings."),
        ),
    ] {
        let mut body = String::new();
        for (booking, facility) in rows.iter() {
            let acting = acting(&principal, booking, facility);
            body.push_str(&booking_row(&ctx, booking, Some(&facility.body.title), acting, "/bookings/queue", true));
        }
        let content = (!rows.is_empty()).then(|| data_table(&booking_headings(&ctx, true), &body));
        html.push_str(&panel(id, heading, "", &format!(r#"<p class="empty-small">{empty}</p>"#), content));
    }
    ctx.render(StatusCode::OK, ctx.t("预约审批", "Booking approvals"), &html)
}

/// Form of `POST /bookings/{id}/events`.
#[derive(Debug, Default, Deserialize)]
pub struct EventForm {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub reason: String,
    /// Where to go afterwards (a path on this site; default `/account`).
    #[serde(default)]
    pub back: String,
}

impl EventForm {
    fn event(&self) -> Result<BookingEvent, String> {
        let reason = self.reason.trim().to_string();
        Ok(match self.kind.trim() {
            "approve" => BookingEvent::Approve,
            "decline" => BookingEvent::Decline { reason },
            "cancel" => BookingEvent::Cancel { reason: (!reason.is_empty()).then_some(reason) },
            "complete" => BookingEvent::Complete,
            "no_show" => BookingEvent::NoShow,
            other => return Err(format!("type: {other:?} is not an event the pages send")),
        })
    }
}

/// `POST /bookings/{id}/events`: sends one event, then back to the queue or the account page.
pub async fn event(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<EventForm>,
) -> Response {
    let back = match form.back.trim() {
        "" => "/account#bookings".to_string(),
        other => safe_next(other).to_string(),
    };
    let event = match form.event() {
        Ok(event) => event,
        Err(detail) => return ctx.refused(StatusCode::BAD_REQUEST, &detail, &back),
    };
    let version = form.version.trim().parse::<i64>().ok();
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.booking_event(&actor, id, version, event)?)).await {
        Ok(_) => see_other(&back),
        Err(ApiError::NotFound(_)) => ctx.not_found(&format!("{}{id}", ctx.t("没有这项预约：", "No such booking: "))),
        Err(ApiError::Forbidden(detail)) => ctx.refused(StatusCode::FORBIDDEN, &detail, &back),
        Err(err) => refused(&ctx, err, "操作未完成", "Not done", &back),
    }
}

/// The account page's bookings and vouchers, loaded with the rest of the page.
pub struct AccountBookings {
    bookings: Vec<Booking>,
    titles: std::collections::HashMap<ListingId, String>,
    vouchers: Vec<Voucher>,
    /// Bookings waiting in the queue of the facilities the user operates.
    queued: usize,
}

/// Loads the account page's bookings and vouchers panels.
pub fn load_account(app: &App, caller: &Caller) -> ApiResult<AccountBookings> {
    let actor = caller.actor();
    let bookings = app.my_bookings(&actor)?;
    let ids: Vec<ListingId> = bookings.iter().map(|b| b.facility_id).collect();
    let titles = app.titles(&actor, &ids)?;
    let vouchers = app.vouchers(&actor)?;
    let queued = app.approval_queue(&actor)?.len();
    Ok(AccountBookings { bookings, titles, vouchers, queued })
}

/// The account page's panels: the user's bookings (cancel from here), the vouchers they see,
/// and for region operators and the admin the voucher issuing form.
pub fn account_panels(ctx: &PageCtx, principal: &Principal, data: &AccountBookings) -> String {
    let lang = ctx.lang;
    let mut html = String::new();
    let queue_hint = if data.queued > 0 {
        format!(
            r#"<p class="notice" id="queue-link"><a href="/bookings/queue">{}</a></p>"#,
            esc(ctx.t(
                &format!("您运营的设施有 {} 条预约待审批 →", data.queued),
                &format!("{} bookings of facilities you operate wait for a decision →", data.queued),
            ))
        )
    } else {
        String::new()
    };
    let mut rows = String::new();
    for booking in &data.bookings {
        let acting = Acting { booker: true, operator: false, system: false };
        rows.push_str(&booking_row(
            ctx,
            booking,
            data.titles.get(&booking.facility_id).map(String::as_str),
            acting,
            "/account#bookings",
            false,
        ));
    }
    let content = (!rows.is_empty()).then(|| data_table(&booking_headings(ctx, false), &rows));
    let empty = format!(
        r#"<p class="empty-small">{}</p>"#,
        ctx.t(
            "暂无预约。在中试基地或科研设施的页面查看空闲产能并提交预约。",
            "No bookings yet. Book a pilot base or instrument from its page."
        )
    );
    html.push_str(&panel("bookings", ctx.t("我的预约", "My bookings"), &queue_hint, &empty, content));

    let mut rows = String::new();
    for voucher in &data.vouchers {
        let accepted: Vec<String> = voucher.accepted_regions.iter().map(|c| labels::region_short(c, lang)).collect();
        let _ = write!(
            rows,
            r#"<tr data-voucher="{id}" data-issuing="{issuing_code}"><td><a href="/vouchers/{id}">#{id}</a></td><td>{org}</td><td class="num">{amount}</td><td class="num">{balance}</td><td class="num">{reserved}</td><td class="num">{spent}</td><td>{issuing}</td><td>{accepted}</td><td>{until}</td></tr>"#,
            id = voucher.id,
            issuing_code = esc(&voucher.issuing_region),
            org = esc(&voucher.organisation),
            amount = fmt_num(fen_to_wan(voucher.amount_fen)),
            balance = fmt_num(fen_to_wan(voucher.balance_fen)),
            reserved = fmt_num(fen_to_wan(voucher.reserved_fen)),
            spent = fmt_num(fen_to_wan(voucher.spent_fen)),
            issuing = esc(&labels::region_name(&voucher.issuing_region, lang)),
            accepted = esc(&accepted.join(ctx.t("、", ", "))),
            until = bj(voucher.valid_until).get(..10).unwrap_or_default(),
        );
    }
    let headings = [
        ctx.t("编号", "No."),
        ctx.t("持有机构", "Held by"),
        ctx.t("面额（万元）", "Amount (×10,000 CNY)"),
        ctx.t("余额", "Balance"),
        ctx.t("已预留", "Reserved"),
        ctx.t("已核销", "Spent"),
        ctx.t("发放地区", "Issued by region"),
        ctx.t("可用地区", "Accepted in"),
        ctx.t("有效期至", "Valid until"),
    ];
    let content = (!rows.is_empty()).then(|| data_table(&headings, &rows));
    let empty = format!(
        r#"<p class="empty-small">{}</p>"#,
        ctx.t(
            "暂无创新券。创新券由各地区运营方向本地区企业发放。",
            "No vouchers. Region operators issue them to enterprises of their region."
        )
    );
    let mut voucher_html = panel("vouchers", ctx.t("创新券", "Innovation vouchers"), "", &empty, content);
    if matches!(principal.role, Role::PlatformAdmin | Role::RegionOperator) {
        let form = issue_form(ctx, principal);
        voucher_html.insert_str(voucher_html.len() - "</section>".len(), &form);
    }
    html.push_str(&voucher_html);
    html
}

fn issue_form(ctx: &PageCtx, principal: &Principal) -> String {
    let region = principal.region.clone().unwrap_or_default();
    let until = today() + time::Duration::days(365);
    format!(
        r#"<form method="post" action="/vouchers" class="voucher-form" id="voucher-form">{csrf}<h3>{h}</h3>
<div class="field"><label for="voucher-org">{l_org}</label><input id="voucher-org" name="organisation" required maxlength="200"></div>
<div class="field"><label for="voucher-amount">{l_amount}</label><input type="number" id="voucher-amount" name="amount" min="0.01" max="10000" step="0.01" required></div>
<div class="field"><label for="voucher-issuing">{l_issuing}</label><input id="voucher-issuing" name="issuing_region" value="{region}" required pattern="\d{{6}}"></div>
<div class="field"><label for="voucher-accepted">{l_accepted}</label><input id="voucher-accepted" name="accepted_regions" value="110000,120000,130000" required><p class="hint">{hint}</p></div>
<div class="field"><label for="voucher-until">{l_until}</label><input type="date" id="voucher-until" name="valid_until" value="{until}" required></div>
<p><button type="submit" id="voucher-submit">{submit}</button></p></form>"#,
        csrf = ctx.csrf_input(),
        h = ctx.t("发放创新券", "Issue a voucher"),
        l_org = ctx.t("企业（名称或编号）", "Enterprise (name or id)"),
        l_amount = ctx.t("面额（万元）", "Amount (×10,000 CNY)"),
        l_issuing = ctx.t("发放地区代码", "Issuing region code"),
        region = esc(&region),
        l_accepted = ctx.t("可用地区代码", "Accepted region codes"),
        hint = ctx.t(
            "以逗号分隔的 GB/T 2260 代码，如 110000（北京）,133100（雄安）。",
            "GB/T 2260 codes separated by commas, e.g. 110000 (Beijing),133100 (Xiong'an)."
        ),
        l_until = ctx.t("有效期至", "Valid until"),
        submit = ctx.t("发放", "Issue"),
    )
}

/// Form of `POST /vouchers`.
#[derive(Debug, Default, Deserialize)]
pub struct VoucherForm {
    #[serde(default)]
    pub organisation: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub issuing_region: String,
    #[serde(default)]
    pub accepted_regions: String,
    #[serde(default)]
    pub valid_until: String,
}

/// `POST /vouchers`: a region operator or the admin issues a voucher, then its ledger.
pub async fn issue_voucher(ctx: PageCtx, State(state): State<AppState>, Form(form): Form<VoucherForm>) -> Response {
    let back = "/account#vouchers";
    let Ok(amount) = form.amount.trim().parse::<f64>() else {
        return ctx.refused(StatusCode::BAD_REQUEST, &format!("amount: {:?} is not a number", form.amount), back);
    };
    let input = VoucherInput {
        organisation: form.organisation.trim().to_string(),
        amount,
        issuing_region: form.issuing_region.trim().to_string(),
        accepted_regions: form
            .accepted_regions
            .split([',', '，', ' ', '、'])
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .map(str::to_string)
            .collect(),
        valid_until: form.valid_until.trim().to_string(),
    };
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.issue_voucher(&actor, input)?)).await {
        Ok(voucher) => see_other(&format!("/vouchers/{}", voucher.id)),
        Err(ApiError::Forbidden(detail)) => ctx.refused(StatusCode::FORBIDDEN, &detail, back),
        Err(err) => refused(&ctx, err, "创新券未发放", "The voucher was not issued", back),
    }
}

/// `GET /vouchers/{id}`: a voucher and every movement of its balance.
pub async fn ledger(ctx: PageCtx, State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    let actor = ctx.caller.actor();
    let (voucher, entries) = match state.blocking(move |app| Ok(app.voucher_ledger(&actor, id)?)).await {
        Ok(loaded) => loaded,
        Err(ApiError::NotFound(_)) => {
            return ctx.not_found(&format!("{}{id}", ctx.t("没有这张创新券：", "No such voucher: ")));
        }
        Err(err) => return ctx.error_page(err),
    };
    let html = render_ledger(&ctx, &voucher, &entries);
    ctx.render(StatusCode::OK, &format!("{} #{id}", ctx.t("创新券", "Voucher")), &html)
}

fn ledger_kind(kind: &str, lang: Lang) -> &str {
    let (zh, en) = match kind {
        "issue" => ("发放", "Issued"),
        "reserve" => ("预留", "Reserved"),
        "spend" => ("核销", "Spent"),
        "release" => ("退回", "Released"),
        other => (other, other),
    };
    lang.t(zh, en)
}

fn render_ledger(ctx: &PageCtx, voucher: &Voucher, entries: &[LedgerEntry]) -> String {
    let lang = ctx.lang;
    let accepted: Vec<String> = voucher.accepted_regions.iter().map(|c| labels::region_name(c, lang)).collect();
    let mut html = format!(
        r#"<nav class="breadcrumb"><a href="/account#vouchers">{back}</a></nav><h1>{h} #{id}</h1>
<dl class="fields" id="voucher-facts"><div><dt>{l_org}</dt><dd>{org}</dd></div><div><dt>{l_amount}</dt><dd>{amount} {wan}</dd></div><div><dt>{l_balance}</dt><dd id="voucher-balance">{balance} {wan}</dd></div><div><dt>{l_reserved}</dt><dd>{reserved} {wan}</dd></div><div><dt>{l_spent}</dt><dd>{spent} {wan}</dd></div><div><dt>{l_issuing}</dt><dd>{issuing}</dd></div><div><dt>{l_accepted}</dt><dd>{accepted}</dd></div><div><dt>{l_until}</dt><dd>{until}</dd></div><div><dt>{l_by}</dt><dd>{by}</dd></div></dl>"#,
        back = ctx.t("← 我的账户", "← My account"),
        h = ctx.t("创新券", "Innovation voucher"),
        id = voucher.id,
        l_org = ctx.t("持有机构", "Held by"),
        org = esc(&voucher.organisation),
        l_amount = ctx.t("面额", "Amount"),
        amount = fmt_num(fen_to_wan(voucher.amount_fen)),
        wan = ctx.t("万元", "×10,000 CNY"),
        l_balance = ctx.t("余额", "Balance"),
        balance = fmt_num(fen_to_wan(voucher.balance_fen)),
        l_reserved = ctx.t("已预留", "Reserved"),
        reserved = fmt_num(fen_to_wan(voucher.reserved_fen)),
        l_spent = ctx.t("已核销", "Spent"),
        spent = fmt_num(fen_to_wan(voucher.spent_fen)),
        l_issuing = ctx.t("发放地区", "Issued by region"),
        issuing = esc(&labels::region_name(&voucher.issuing_region, lang)),
        l_accepted = ctx.t("可用地区", "Accepted in"),
        accepted = esc(&accepted.join(ctx.t("、", ", "))),
        l_until = ctx.t("有效期至", "Valid until"),
        until = bj(voucher.valid_until),
        l_by = ctx.t("发放人", "Issued by"),
        by = esc(&voucher.issued_by),
    );
    let mut rows = String::new();
    for entry in entries {
        let booking = entry.booking_id.map(|b| format!("#{b}")).unwrap_or_else(|| "—".into());
        let _ = write!(
            rows,
            r#"<tr data-kind="{kind}"><td>{at}</td><td>{label}</td><td>{booking}</td><td class="num">{amount}</td><td class="num">{reserved}</td><td class="num">{after}</td></tr>"#,
            kind = esc(&entry.kind),
            at = bj(entry.at),
            label = esc(ledger_kind(&entry.kind, lang)),
            amount = fmt_num(fen_to_wan(entry.amount_fen)),
            reserved = fmt_num(fen_to_wan(entry.reserved_fen)),
            after = fmt_num(fen_to_wan(entry.balance_after_fen)),
        );
    }
    let headings = [
        ctx.t("时间", "When"),
        ctx.t("变动", "Movement"),
        ctx.t("预约", "Booking"),
        ctx.t("余额变动（万元）", "Balance change (×10,000 CNY)"),
        ctx.t("预留变动", "Reserved change"),
        ctx.t("变动后余额", "Balance after"),
    ];
    let _ = write!(
        html,
        r#"<section class="panel" id="ledger" aria-labelledby="ledger-h"><h2 id="ledger-h">{}</h2>{}</section>"#,
        ctx.t("流水", "Ledger"),
        data_table(&headings, &rows)
    );
    html
}
