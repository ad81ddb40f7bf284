//! Who may see and change what: organisations, roles, the viewer of a request, and the rules
//! that turn a listing's `visibility`, `status` and `owner_org` into allow or deny.
//!
//! Every reader of listings (get by id, lists, search, matching, exports, dashboards) asks the
//! same [`ReadScope`], so nothing one viewer may not see reaches them by another path.
//!
//! * `public` — everyone, including visitors who are not logged in;
//! * `registered` — every logged-in user;
//! * `region` — users whose home region (their organisation's region, or the region they
//!   operate) is in the same provincial-level division (北京市, 天津市, 河北省) as one of the
//!   listing's regions;
//! * `organisation` — members of the owning organisation and the technology managers it
//!   appointed.
//!
//! Only published listings are visible by those rules. Drafts, listings awaiting review,
//! rejected and archived listings are visible to their own organisation only (and the platform
//! admin); region operators additionally see listings awaiting review in their region.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Contact, ListingBody, Reference, Status, Visibility};

/// What an organisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Enterprise,
    /// University or research institute (高校院所).
    University,
    FacilityOperator,
    Government,
    /// The personal account of an individual talent.
    Individual,
}

impl OrgKind {
    pub const ALL: [OrgKind; 5] =
        [OrgKind::Enterprise, OrgKind::University, OrgKind::FacilityOperator, OrgKind::Government, OrgKind::Individual];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Enterprise => "enterprise",
            OrgKind::University => "university",
            OrgKind::FacilityOperator => "facility_operator",
            OrgKind::Government => "government",
            OrgKind::Individual => "individual",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            OrgKind::Enterprise => "企业",
            OrgKind::University => "高校院所",
            OrgKind::FacilityOperator => "设施运营方",
            OrgKind::Government => "政府部门",
            OrgKind::Individual => "个人",
        }
    }
}

impl FromStr for OrgKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| {
            format!("unknown organisation kind {s:?}; expected enterprise, university, facility_operator, government or individual")
        })
    }
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees and manages everything.
    PlatformAdmin,
    /// Reviews listings and reads the audit trail of one region.
    RegionOperator,
    /// Manages the listings and members of their organisation.
    OrgAdmin,
    /// Manages the listings of their organisation.
    Member,
    /// 技术经理人: acts for the organisations that appointed them.
    TechManager,
    /// An individual talent with a personal account.
    Talent,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::PlatformAdmin, Role::RegionOperator, Role::OrgAdmin, Role::Member, Role::TechManager, Role::Talent];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::RegionOperator => "region_operator",
            Role::OrgAdmin => "org_admin",
            Role::Member => "member",
            Role::TechManager => "tech_manager",
            Role::Talent => "talent",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "平台管理员",
            Role::RegionOperator => "区域运营",
            Role::OrgAdmin => "机构管理员",
            Role::Member => "机构成员",
            Role::TechManager => "技术经理人",
            Role::Talent => "个人人才",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "Platform admin",
            Role::RegionOperator => "Region operator",
            Role::OrgAdmin => "Organisation admin",
            Role::Member => "Member",
            Role::TechManager => "Technology manager",
            Role::Talent => "Individual talent",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| {
            format!("unknown role {s:?}; expected platform_admin, region_operator, org_admin, member, tech_manager or talent")
        })
    }
}

/// What an API token may do, on top of what its user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Safe methods (GET, HEAD).
    Read,
    /// Creating and changing listings, imports, requests.
    Write,
    /// Review, audit trail, accounts.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| format!("unknown scope {s:?}; expected read, write or admin"))
    }
}

/// A logged-in user as the rules see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub user_id: crate::UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Name of the user's organisation (listings' `owner_org` holds organisation names).
    pub org: Option<String>,
    /// Home region: the region a region operator operates, else the organisation's region.
    pub region: Option<String>,
    /// Organisations that appointed this technology manager.
    pub acting_for: Vec<String>,
    /// Scopes of the credential used (all for a session).
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// Organisations whose listings this user manages.
    pub fn orgs(&self) -> Vec<String> {
        let mut orgs: Vec<String> = self.org.iter().cloned().collect();
        if self.role == Role::TechManager {
            orgs.extend(self.acting_for.iter().cloned());
        }
        orgs
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether this user operates a region containing `code` (or is the platform admin).
    pub fn operates_region(&self, code: &str) -> bool {
        match (self.role, &self.region) {
            (Role::PlatformAdmin, _) => true,
            (Role::RegionOperator, Some(region)) => Reference::get().region_within(code, region),
            _ => false,
        }
    }
}

/// The viewer of a request: a visitor or a logged-in user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Viewer {
    #[default]
    Anonymous,
    User(Principal),
}

impl Viewer {
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Viewer::Anonymous => None,
            Viewer::User(p) => Some(p),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.principal().is_some_and(Principal::is_admin)
    }

    /// The read rules of this viewer.
    pub fn read_scope(&self) -> ReadScope {
        match self {
            Viewer::Anonymous => ReadScope::anonymous(),
            Viewer::User(p) if p.is_admin() => ReadScope::All,
            Viewer::User(p) => {
                let reference = Reference::get();
                let provinces =
                    p.region.as_deref().and_then(|r| reference.province_of(r)).map(|r| vec![r.code.clone()]);
                ReadScope::Limited { registered: true, provinces: provinces.unwrap_or_default(), orgs: p.orgs() }
            }
        }
    }

    /// Whether the viewer may read the listing.
    pub fn can_read(&self, body: &ListingBody) -> bool {
        if self.read_scope().allows(body) {
            return true;
        }
        // Region operators see what waits for their review.
        body.status == Status::Pending && self.can_review(body)
    }

    /// Whether the viewer may change the listing (edit, archive).
    pub fn can_write(&self, body: &ListingBody) -> bool {
        match self.principal() {
            None => false,
            Some(p) if p.is_admin() => true,
            Some(p) => body.owner_org.as_ref().is_some_and(|owner| p.orgs().contains(owner)),
        }
    }

    /// Whether the viewer may approve or reject the listing's publication.
    pub fn can_review(&self, body: &ListingBody) -> bool {
        self.principal().is_some_and(|p| body.region_codes.iter().any(|code| p.operates_region(code)))
    }

    /// Whether the viewer sees the listing's contact details unmasked: members of the owning
    /// organisation do; others only after a matchmaking request was accepted (`granted`).
    pub fn sees_contact(&self, body: &ListingBody, granted: bool) -> bool {
        granted
            || self.principal().is_some_and(|p| body.owner_org.as_ref().is_some_and(|owner| p.orgs().contains(owner)))
    }
}

/// The read rules of one viewer, in a form search indexes and SQL can apply as a filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum ReadScope {
    /// Everything (platform admin).
    All,
    /// Published listings by visibility, plus everything of `orgs`.
    Limited {
        /// Logged in: `registered` listings are visible.
        registered: bool,
        /// Province codes where `region` listings are visible.
        provinces: Vec<String>,
        /// Organisations whose listings are visible in any state and visibility.
        orgs: Vec<String>,
    },
}

impl ReadScope {
    pub fn anonymous() -> ReadScope {
        ReadScope::Limited { registered: false, provinces: Vec::new(), orgs: Vec::new() }
    }

    pub fn allows(&self, body: &ListingBody) -> bool {
        match self {
            ReadScope::All => true,
            ReadScope::Limited { registered, provinces, orgs } => {
                if body.owner_org.as_ref().is_some_and(|owner| orgs.contains(owner)) {
                    return true;
                }
                if body.status != Status::Published {
                    return false;
                }
                match body.visibility {
                    Visibility::Public => true,
                    Visibility::Registered => *registered,
                    Visibility::Region => {
                        let reference = Reference::get();
                        body.region_codes.iter().any(|code| provinces.iter().any(|p| reference.region_within(code, p)))
                    }
                    Visibility::Organisation => false,
                }
            }
        }
    }

    /// A short stable key, for caches of figures computed per scope.
    pub fn cache_key(&self) -> String {
        match self {
            ReadScope::All => "all".to_string(),
            ReadScope::Limited { registered, provinces, orgs } => {
                format!("{}|{}|{}", registered, provinces.join(","), orgs.join(","))
            }
        }
    }
}

impl Contact {
    /// The contact with each part masked: 张** , 138****5678, z***@example.com.
    pub fn masked(&self) -> Contact {
        Contact {
            name: self.name.as_deref().map(mask_name),
            phone: self.phone.as_deref().map(mask_phone),
            email: self.email.as_deref().map(mask_email),
        }
    }
}

fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep_head = if chars.len() >= 11 { 3 } else { 0 };
    chars.iter().enumerate().map(|(i, c)| if i < keep_head || i >= chars.len() - 4 { *c } else { '*' }).collect()
}

fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(visibility: Visibility, status: Status, owner: &str, region: &str) -> ListingBody {
        let mut body: ListingBody = serde_json::from_value(serde_json::json!({
            "kind": "enterprise", "title": "t", "summary": "s", "region_codes": [region],
        }))
        .unwrap();
        body.visibility = visibility;
        body.status = status;
        body.owner_org = Some(owner.to_string());
        body
    }

    fn user(role: Role, org: &str, region: &str) -> Viewer {
        Viewer::User(Principal {
            user_id: crate::UserId(1),
            username: "u".into(),
            display_name: "u".into(),
            role,
            org: Some(org.into()),
            region: Some(region.into()),
            acting_for: vec!["appointing".into()],
            scopes: Scope::ALL.to_vec(),
        })
    }

    #[test]
    fn visibility_levels() {
        let anon = Viewer::Anonymous;
        let beijing = user(Role::Member, "b", "110106");
        let hebei = user(Role::Member, "h", "130602");
        let owner = user(Role::Member, "o", "120101");
        let region = body(Visibility::Region, Status::Published, "o", "110108");
        assert!(!anon.can_read(&region));
        assert!(beijing.can_read(&region), "same province");
        assert!(!hebei.can_read(&region), "other province");
        assert!(owner.can_read(&region), "own organisation");
        let registered = body(Visibility::Registered, Status::Published, "o", "110108");
        assert!(!anon.can_read(&registered));
        assert!(hebei.can_read(&registered));
        let org_only = body(Visibility::Organisation, Status::Published, "o", "110108");
        assert!(!beijing.can_read(&org_only));
        assert!(owner.can_read(&org_only));
        let draft = body(Visibility::Public, Status::Draft, "o", "110108");
        assert!(!anon.can_read(&draft) && !beijing.can_read(&draft));
        assert!(owner.can_read(&draft) && owner.can_write(&draft));
        assert!(!beijing.can_write(&draft));
        let public = body(Visibility::Public, Status::Published, "o", "110108");
        assert!(anon.can_read(&public) && !anon.can_write(&public));
    }

    #[test]
    fn technology_managers_act_for_appointing_organisations() {
        let manager = user(Role::TechManager, "agency", "110106");
        let member = user(Role::Member, "agency", "110106");
        let listing = body(Visibility::Organisation, Status::Draft, "appointing", "130602");
        assert!(manager.can_read(&listing) && manager.can_write(&listing));
        assert!(!member.can_read(&listing) && !member.can_write(&listing));
    }

    #[test]
    fn region_operators_review_their_region_only() {
        let fengtai = user(Role::RegionOperator, "gov", "110106");
        let pending_here = body(Visibility::Public, Status::Pending, "o", "110106");
        let pending_there = body(Visibility::Public, Status::Pending, "o", "110108");
        assert!(fengtai.can_review(&pending_here) && fengtai.can_read(&pending_here));
        assert!(!fengtai.can_review(&pending_there) && !fengtai.can_read(&pending_there));
        assert!(!fengtai.can_write(&pending_here));
    }

    #[test]
    fn masks_contacts() {
        let contact = Contact {
            name: Some("张三丰".into()),
            phone: Some("13812345678".into()),
            email: Some("zhang@example.com".into()),
        };
        let masked = contact.masked();
        assert_eq!(masked.name.as_deref(), Some("张**"));
        assert_eq!(masked.phone.as_deref(), Some("138****5678"));
        assert_eq!(masked.email.as_deref(), Some("z***@example.com"));
        assert_eq!(mask_phone("010-6512"), "****6512");
    }
}
