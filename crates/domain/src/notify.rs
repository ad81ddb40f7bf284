//! Notification events: the names every notice, inbox item and webhook delivery carries, in one
//! list. Webhooks subscribe to some of them or to [`ALL_EVENTS`] (`"*"`).

use crate::deal::DealEvent;

/// One notification event: its fixed name and what it means, in Chinese and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventName {
    pub name: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

/// Subscribes a webhook to every event.
pub const ALL_EVENTS: &str = "*";

/// Every event a notice can be about.
pub const EVENTS: [EventName; 27] = [
    EventName { name: "deal.proposed", zh: "收到对接请求", en: "a deal was proposed on your listing" },
    EventName { name: "deal.accepted", zh: "对接已被接受", en: "the owner accepted your deal" },
    EventName {
        name: "deal.declined",
        zh: "对接被婉拒（附原因）",
        en: "the owner declined your deal (with the reason)",
    },
    EventName { name: "deal.meeting", zh: "记录了洽谈", en: "a meeting was recorded" },
    EventName { name: "deal.signed", zh: "记录了签约", en: "an agreement was recorded" },
    EventName {
        name: "deal.converted",
        zh: "记录了转化成果",
        en: "an outcome (pilot run, small batch, mass production) was recorded",
    },
    EventName { name: "deal.closed", zh: "对接已关闭", en: "the deal was closed" },
    EventName {
        name: "deal.broker_appointed",
        zh: "委托了技术经理人",
        en: "a technology manager now brokers for one side",
    },
    EventName {
        name: "listing.approved",
        zh: "资源已审核通过并发布",
        en: "a region operator approved and published your listing",
    },
    EventName {
        name: "listing.rejected",
        zh: "资源审核未通过（附原因）",
        en: "a region operator rejected your listing (with the reason)",
    },
    EventName {
        name: "listing.stale",
        zh: "资源长期未更新，请核实（每个周期提醒一次）",
        en: "your listing has not been updated for a long time (reminded once per period)",
    },
    EventName {
        name: "claim.submitted",
        zh: "有用户申请认领本区域的机构",
        en: "someone asks to represent an organisation of your region",
    },
    EventName { name: "claim.approved", zh: "机构认领已通过", en: "your claim on an organisation was approved" },
    EventName {
        name: "claim.rejected",
        zh: "机构认领未通过（附原因）",
        en: "your claim on an organisation was rejected (with the reason)",
    },
    EventName {
        name: "challenge.applied", zh: "您发布的榜单收到揭榜申请", en: "a team applied to your challenge"
    },
    EventName {
        name: "challenge.reviewer_appointed",
        zh: "您被聘为榜单评审专家",
        en: "you were appointed a reviewer of a challenge",
    },
    EventName {
        name: "challenge.reviewing",
        zh: "榜单报名截止，进入评审",
        en: "a challenge you applied to closed its applications and is being reviewed",
    },
    EventName {
        name: "challenge.race_started",
        zh: "赛马名单公布（入围或未入围）",
        en: "the racing teams were chosen (your team raced or was not selected)",
    },
    EventName {
        name: "challenge.report_filed",
        zh: "赛马团队提交了节点报告",
        en: "a racing team filed a milestone report",
    },
    EventName {
        name: "challenge.gate_decided",
        zh: "节点考核结果（通过或淘汰）",
        en: "a milestone gate of your team was decided (passed or eliminated)",
    },
    EventName {
        name: "challenge.awarded",
        zh: "榜单揭晓，结果公示",
        en: "a challenge you took part in named its winners",
    },
    EventName {
        name: "challenge.closed",
        zh: "榜单已关闭，未授榜",
        en: "a challenge you took part in was closed without award",
    },
    EventName {
        name: "challenge.invited", zh: "有榜单邀请您揭榜", en: "a challenge organiser invites you to apply"
    },
    EventName {
        name: "booking.requested",
        zh: "设施收到新的预约（或候补）",
        en: "a booking (or waitlist entry) was requested at your facility",
    },
    EventName {
        name: "booking.updated",
        zh: "预约有变化：批准、拒绝、取消、改期、候补转正、完成或未到场",
        en: "a booking was approved, declined, cancelled, rescheduled, promoted from the waitlist, completed or marked no-show",
    },
    EventName {
        name: "engagement.proposed",
        zh: "收到柔性聘用邀请（双聘、周末工程师等）",
        en: "an organisation proposed to engage your talent (dual appointment, weekend engineer …)",
    },
    EventName {
        name: "engagement.decided",
        zh: "柔性聘用被接受、婉拒或结束",
        en: "an engagement was accepted, declined or ended",
    },
];

/// Whether `name` is an event of [`EVENTS`].
pub fn is_event(name: &str) -> bool {
    EVENTS.iter().any(|event| event.name == name)
}

/// Whether a subscription to `events` (names or `"*"`) covers `event`.
pub fn subscribed(events: &[String], event: &str) -> bool {
    events.iter().any(|e| e == ALL_EVENTS || e == event)
}

/// The notification event of a deal event.
pub fn deal_event_name(event: &DealEvent) -> &'static str {
    match event {
        DealEvent::Accept => "deal.accepted",
        DealEvent::Decline { .. } => "deal.declined",
        DealEvent::Meeting { .. } => "deal.meeting",
        DealEvent::Sign { .. } => "deal.signed",
        DealEvent::Outcome { .. } => "deal.converted",
        DealEvent::Close { .. } => "deal.closed",
        DealEvent::AppointBroker { .. } => "deal.broker_appointed",
    }
}

/// The event list as Markdown, for API descriptions.
pub fn events_markdown() -> String {
    EVENTS.iter().map(|e| format!("- `{}`: {} ({})\n", e.name, e.en, e.zh)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_deal_event_has_a_listed_name() {
        let events = [
            DealEvent::Accept,
            DealEvent::Close { reason: "x".into() },
            DealEvent::AppointBroker { username: "tm".into() },
        ];
        for event in events {
            assert!(is_event(deal_event_name(&event)), "{event:?}");
        }
        assert!(is_event("deal.proposed") && is_event("listing.rejected"));
        assert!(!is_event("*") && !is_event("deal.accept"));
    }

    #[test]
    fn wildcard_subscribes_to_all() {
        assert!(subscribed(&["*".into()], "deal.closed"));
        assert!(subscribed(&["deal.closed".into()], "deal.closed"));
        assert!(!subscribed(&["deal.accepted".into()], "deal.closed"));
        assert!(!subscribed(&[], "deal.closed"));
    }
}
