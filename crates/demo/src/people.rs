//! Fake but plausible people, organisations and contact details.
//!
//! Names are composed from syllable lists so that no real company or person is named on
//! purpose; phones use the real area codes of Beijing (010), Tianjin (022) and Hebei's cities.

use xietong_domain::Contact;

use crate::places::{Area, area_of};
use crate::rng::Rng;
use crate::vocab::Sector;

/// Surnames with their pinyin, roughly by frequency.
const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("赵", "zhao"),
    ("黄", "huang"),
    ("周", "zhou"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("胡", "hu"),
    ("朱", "zhu"),
    ("高", "gao"),
    ("林", "lin"),
    ("何", "he"),
    ("郭", "guo"),
    ("马", "ma"),
    ("罗", "luo"),
    ("梁", "liang"),
    ("宋", "song"),
    ("郑", "zheng"),
    ("谢", "xie"),
    ("韩", "han"),
    ("唐", "tang"),
    ("冯", "feng"),
    ("于", "yu"),
    ("董", "dong"),
    ("萧", "xiao"),
    ("程", "cheng"),
    ("曹", "cao"),
    ("袁", "yuan"),
    ("邓", "deng"),
    ("许", "xu"),
    ("傅", "fu"),
    ("沈", "shen"),
    ("曾", "zeng"),
    ("彭", "peng"),
    ("吕", "lv"),
    ("苏", "su"),
    ("卢", "lu"),
    ("蒋", "jiang"),
    ("蔡", "cai"),
    ("贾", "jia"),
    ("丁", "ding"),
    ("魏", "wei"),
    ("薛", "xue"),
    ("叶", "ye"),
    ("阎", "yan"),
    ("潘", "pan"),
    ("杜", "du"),
    ("戴", "dai"),
    ("夏", "xia"),
    ("钟", "zhong"),
    ("田", "tian"),
    ("任", "ren"),
    ("姜", "jiang"),
    ("范", "fan"),
    ("方", "fang"),
    ("石", "shi"),
    ("姚", "yao"),
    ("谭", "tan"),
    ("廖", "liao"),
    ("邹", "zou"),
    ("熊", "xiong"),
    ("金", "jin"),
    ("陆", "lu"),
    ("郝", "hao"),
    ("孔", "kong"),
];

/// Characters of given names with their pinyin.
const GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀", "xiu"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("宇", "yu"),
    ("浩", "hao"),
    ("凯", "kai"),
    ("鹏", "peng"),
    ("晨", "chen"),
    ("欣", "xin"),
    ("婷", "ting"),
    ("博", "bo"),
    ("文", "wen"),
    ("斌", "bin"),
    ("慧", "hui"),
    ("建", "jian"),
    ("志", "zhi"),
    ("国", "guo"),
    ("海", "hai"),
    ("雪", "xue"),
    ("思", "si"),
    ("佳", "jia"),
    ("子", "zi"),
    ("一", "yi"),
    ("嘉", "jia"),
    ("俊", "jun"),
    ("晓", "xiao"),
    ("振", "zhen"),
    ("昊", "hao"),
    ("宁", "ning"),
    ("彤", "tong"),
    ("琳", "lin"),
    ("泽", "ze"),
    ("航", "hang"),
    ("远", "yuan"),
    ("帆", "fan"),
    ("睿", "rui"),
    ("瑶", "yao"),
    ("蕾", "lei"),
    ("峰", "feng"),
];

/// Brand syllables for company names, with pinyin for the email domain.
const BRAND: &[(&str, &str)] = &[
    ("睿", "rui"),
    ("拓", "tuo"),
    ("恒", "heng"),
    ("联", "lian"),
    ("创", "chuang"),
    ("博", "bo"),
    ("鼎", "ding"),
    ("诚", "cheng"),
    ("宇", "yu"),
    ("泰", "tai"),
    ("盛", "sheng"),
    ("远", "yuan"),
    ("锐", "rui"),
    ("捷", "jie"),
    ("凯", "kai"),
    ("迅", "xun"),
    ("源", "yuan"),
    ("晟", "sheng"),
    ("启", "qi"),
    ("昊", "hao"),
    ("璟", "jing"),
    ("融", "rong"),
    ("景", "jing"),
    ("信", "xin"),
    ("维", "wei"),
    ("思", "si"),
    ("瑞", "rui"),
    ("辰", "chen"),
    ("峰", "feng"),
    ("峻", "jun"),
    ("致", "zhi"),
    ("精", "jing"),
    ("芯", "xin"),
    ("朗", "lang"),
    ("卓", "zhuo"),
    ("途", "tu"),
    ("驰", "chi"),
    ("翼", "yi"),
    ("腾", "teng"),
    ("澜", "lan"),
    ("弘", "hong"),
    ("曜", "yao"),
    ("衡", "heng"),
    ("铭", "ming"),
    ("灏", "hao"),
    ("钧", "jun"),
    ("珩", "heng"),
    ("骁", "xiao"),
    ("岚", "lan"),
    ("瀚", "han"),
    ("槿", "jin"),
    ("烨", "ye"),
    ("煜", "yu"),
    ("霆", "ting"),
    ("韬", "tao"),
    ("麒", "qi"),
];

/// Place-like prefixes for institutes and parks; invented, not the names of real bodies.
pub(crate) const INSTITUTE_PREFIXES: &[(&str, &str)] = &[
    ("京南", "jingnan"),
    ("京西", "jingxi"),
    ("津沽", "jingu"),
    ("渤海湾", "bohaiwan"),
    ("冀中", "jizhong"),
    ("太行", "taihang"),
    ("永定河", "yongdinghe"),
    ("卢沟", "lugou"),
    ("燕赵", "yanzhao"),
    ("雄州", "xiongzhou"),
    ("白洋淀", "baiyangdian"),
    ("潞河", "luhe"),
    ("凤台", "fengtai"),
    ("南苑", "nanyuan"),
    ("丽泽", "lize"),
    ("滨城", "bincheng"),
    ("海河", "haihe"),
    ("京畿", "jingji"),
    ("长辛店", "changxindian"),
    ("桑干河", "sangganhe"),
];
const INSTITUTE_TYPES: &[&str] =
    &["先进技术研究院", "产业技术研究院", "工程技术大学", "科技学院", "新型研发机构", "协同创新研究院", "重点实验室"];
const SUFFIXES: &[&str] = &["有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司", "集团有限公司"];

/// A person's name and the pinyin used in their email address.
pub(crate) struct Person {
    pub(crate) name: String,
    pub(crate) pinyin: String,
}

pub(crate) fn person(rng: &mut Rng) -> Person {
    let (surname, surname_pinyin) = *rng.pick(SURNAMES);
    let (first, first_pinyin) = *rng.pick(GIVEN);
    if rng.chance(0.3) {
        return Person { name: format!("{surname}{first}"), pinyin: format!("{surname_pinyin}{first_pinyin}") };
    }
    let (second, second_pinyin) = *rng.pick(GIVEN);
    Person {
        name: format!("{surname}{first}{second}"),
        pinyin: format!("{surname_pinyin}{first_pinyin}{second_pinyin}"),
    }
}

/// An organisation that owns listings.
#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub(crate) name: String,
    /// What people call it: 睿拓锂电 for a company, the full name for an institute.
    pub(crate) short_name: String,
    /// Email domain, e.g. ruituo.com.cn.
    pub(crate) domain: String,
    /// Region code of the head office.
    pub(crate) region_code: String,
    /// Index into `SECTORS`.
    pub(crate) sector: usize,
}

/// A company's full name, short name and email domain.
pub(crate) struct CompanyName {
    /// 北京睿拓锂电智能装备有限公司.
    pub(crate) name: String,
    /// 睿拓锂电, as people say it.
    pub(crate) short_name: String,
    /// ruituo.com.cn.
    pub(crate) domain: String,
}

/// A company name such as 北京睿拓锂电智能装备有限公司 or 睿拓（天津）机器人有限公司: a brand of
/// two or three syllables, an optional specialty, the sector word and the legal form, with the
/// city in front, in brackets after the brand, or absent.
pub(crate) fn company_name(rng: &mut Rng, city: &str, sector: &Sector) -> CompanyName {
    let syllable_count = 2 + usize::from(rng.chance(0.4));
    let syllables = rng.sample(BRAND, syllable_count);
    let brand: String = syllables.iter().map(|(text, _)| *text).collect();
    let brand_pinyin: String = syllables.iter().map(|(_, pinyin)| *pinyin).collect();
    let specialty = if rng.chance(0.6) { *rng.pick(sector.company_specialties) } else { "" };
    let word = rng.pick(sector.company_words);
    let suffix = rng.pick(SUFFIXES);
    let name = match rng.weighted(&[70, 20, 10]) {
        0 => format!("{city}{brand}{specialty}{word}{suffix}"),
        1 => format!("{brand}（{city}）{specialty}{word}{suffix}"),
        _ => format!("{brand}{specialty}{word}{suffix}"),
    };
    CompanyName { name, short_name: format!("{brand}{specialty}"), domain: format!("{brand_pinyin}.com.cn") }
}

/// An institute or university name such as 京南先进技术研究院.
pub(crate) fn institute_name(rng: &mut Rng, sector_name: &str) -> (String, String) {
    let (prefix, prefix_pinyin) = *rng.pick(INSTITUTE_PREFIXES);
    let kind_index = rng.below(INSTITUTE_TYPES.len());
    let name = if rng.chance(0.35) {
        format!("{prefix}{sector_name}研究所")
    } else {
        format!("{prefix}{}", INSTITUTE_TYPES[kind_index])
    };
    let domain = format!("{prefix_pinyin}{kind_index}.edu.cn");
    (name, domain)
}

/// A landline in the region's area code, or a mobile number.
pub(crate) fn phone(rng: &mut Rng, region_code: &str) -> String {
    if rng.chance(0.4) {
        let prefix = rng.pick(&["138", "139", "135", "136", "150", "151", "158", "186", "187", "177", "199"]);
        return format!("{prefix}{:08}", rng.below(100_000_000));
    }
    match area_of(region_code) {
        Area::Fengtai | Area::Beijing => format!("010-6{:07}", rng.below(10_000_000)),
        Area::Tianjin => format!("022-2{:07}", rng.below(10_000_000)),
        Area::Hebei | Area::Xiongan => {
            let area_code = hebei_area_code(region_code);
            format!("{area_code}-{}{:06}", rng.between(2, 8), rng.below(1_000_000))
        }
    }
}

fn hebei_area_code(region_code: &str) -> &'static str {
    match &region_code[..4] {
        "1301" => "0311",
        "1302" => "0315",
        "1303" => "0335",
        "1304" => "0310",
        "1305" => "0319",
        "1307" => "0313",
        "1308" => "0314",
        "1309" => "0317",
        "1310" => "0316",
        "1311" => "0318",
        _ => "0312",
    }
}

/// Contact details for a listing owned by `org`.
pub(crate) fn contact(rng: &mut Rng, org: &Org) -> Contact {
    let person = person(rng);
    let local = if rng.chance(0.5) {
        person.pinyin.clone()
    } else {
        rng.pick(&["bd", "market", "tech", "service", "cooperation", "info"]).to_string()
    };
    Contact {
        name: Some(person.name),
        phone: Some(phone(rng, &org.region_code)),
        email: Some(format!("{local}@{}", org.domain)),
    }
}
