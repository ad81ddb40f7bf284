//! SVG charts drawn on the server: the region map, the cross-region flow chart and bar charts.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::OnceLock;

use xietong_app::stats::Flow;

use super::{Lang, encode_component, esc, labels};

/// Width of the map's view box.
const MAP_WIDTH: f64 = 520.0;
const MAP_PAD: f64 = 8.0;

/// One projected region of the boundary file.
struct MapShape {
    code: String,
    name_zh: String,
    name_en: String,
    /// Tiles the area (municipality or prefecture); the Hebei outline is not a tile.
    mosaic: bool,
    path: String,
    label_x: f64,
    label_y: f64,
}

/// Rings of lon/lat points of each feature, by feature index.
type FeatureRings = Vec<(usize, Vec<Vec<(f64, f64)>>)>;

struct MapGeometry {
    shapes: Vec<MapShape>,
    height: f64,
}

/// Projects the boundary file once (equirectangular, longitudes scaled by cos of the mean latitude).
fn geometry() -> &'static MapGeometry {
    static GEOMETRY: OnceLock<MapGeometry> = OnceLock::new();
    GEOMETRY.get_or_init(|| {
        let collection: serde_json::Value = serde_json::from_str(xietong_domain::JJJ_GEOJSON).unwrap_or_default();
        let features: Vec<&serde_json::Value> =
            collection["features"].as_array().map(|f| f.iter().collect()).unwrap_or_default();
        let rings_of = |feature: &serde_json::Value| -> Vec<Vec<(f64, f64)>> {
            let geometry = &feature["geometry"];
            let polygons: Vec<&serde_json::Value> = match geometry["type"].as_str() {
                Some("Polygon") => vec![&geometry["coordinates"]],
                Some("MultiPolygon") => {
                    geometry["coordinates"].as_array().map(|p| p.iter().collect()).unwrap_or_default()
                }
                _ => Vec::new(),
            };
            polygons
                .into_iter()
                .flat_map(|polygon| polygon.as_array().cloned().unwrap_or_default())
                .map(|ring| {
                    ring.as_array()
                        .map(|points| {
                            points.iter().filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?))).collect::<Vec<_>>()
                        })
                        .unwrap_or_default()
                })
                .collect()
        };
        let all_rings: FeatureRings = features.iter().enumerate().map(|(i, f)| (i, rings_of(f))).collect();
        let (mut min_lng, mut max_lng, mut min_lat, mut max_lat) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (_, rings) in &all_rings {
            for &(lng, lat) in rings.iter().flatten() {
                min_lng = min_lng.min(lng);
                max_lng = max_lng.max(lng);
                min_lat = min_lat.min(lat);
                max_lat = max_lat.max(lat);
            }
        }
        let cos_lat = ((min_lat + max_lat) / 2.0).to_radians().cos();
        let scale = (MAP_WIDTH - 2.0 * MAP_PAD) / ((max_lng - min_lng) * cos_lat).max(1e-9);
        let project =
            |lng: f64, lat: f64| ((lng - min_lng) * cos_lat * scale + MAP_PAD, (max_lat - lat) * scale + MAP_PAD);
        let height = (max_lat - min_lat) * scale + 2.0 * MAP_PAD;
        let shapes = all_rings
            .into_iter()
            .map(|(index, rings)| {
                let properties = &features[index]["properties"];
                let mut path = String::new();
                for ring in &rings {
                    for (i, &(lng, lat)) in ring.iter().enumerate() {
                        let (x, y) = project(lng, lat);
                        let _ = write!(path, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
                    }
                    path.push('Z');
                }
                let (label_x, label_y) = project(
                    properties["centroid_lng"].as_f64().unwrap_or(min_lng),
                    properties["centroid_lat"].as_f64().unwrap_or(min_lat),
                );
                MapShape {
                    code: properties["code"].as_str().unwrap_or_default().to_string(),
                    name_zh: properties["name"].as_str().unwrap_or_default().to_string(),
                    name_en: properties["name_en"].as_str().unwrap_or_default().to_string(),
                    mosaic: properties["mosaic"].as_bool().unwrap_or(false),
                    path,
                    label_x,
                    label_y,
                }
            })
            .collect();
        MapGeometry { shapes, height }
    })
}

/// Colours of the density classes, light to dark.
const DENSITY_COLOURS: [&str; 5] = ["#e6f0fa", "#b9d4ef", "#7fb0de", "#3f83c4", "#175a9c"];

/// The map of Beijing, Tianjin and Hebei's prefectures, shaded by published listings per region.
/// Every region links to a search filtered to it.
pub fn region_map(counts: &HashMap<String, u64>, lang: Lang) -> String {
    let geometry = geometry();
    let max = geometry
        .shapes
        .iter()
        .filter(|s| s.mosaic)
        .map(|s| counts.get(&s.code).copied().unwrap_or(0))
        .max()
        .unwrap_or(0)
        .max(1);
    let class_of = |count: u64| -> usize {
        if count == 0 {
            return 0;
        }
        (((count as f64 / max as f64) * 4.0).ceil() as usize).clamp(1, 4)
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="region-map" class="chart map" viewBox="0 0 {w} {h:.0}" role="img" aria-labelledby="region-map-title" xmlns="http://www.w3.org/2000/svg"><title id="region-map-title">{title}</title>"#,
        w = MAP_WIDTH,
        h = geometry.height,
        title =
            esc(lang.t("京津冀各地区已发布资源数量分布图", "Published listings per region of Beijing–Tianjin–Hebei")),
    );
    for shape in geometry.shapes.iter().filter(|s| s.mosaic) {
        let count = counts.get(&shape.code).copied().unwrap_or(0);
        let name = lang.t(&shape.name_zh, &shape.name_en);
        let _ = write!(
            svg,
            r#"<a href="/search?region={code}" aria-label="{name}: {count}"><path class="region" id="region-{code}" data-code="{code}" data-count="{count}" fill="{fill}" d="{d}"><title>{name}：{count} {unit}</title></path></a>"#,
            code = shape.code,
            name = esc(name),
            fill = DENSITY_COLOURS[class_of(count)],
            d = shape.path,
            unit = lang.t("条", "listings"),
        );
    }
    for shape in geometry.shapes.iter().filter(|s| !s.mosaic) {
        let _ = write!(svg, r#"<path class="province-outline" d="{}"/>"#, shape.path);
    }
    for shape in geometry.shapes.iter().filter(|s| s.mosaic) {
        let name = lang.t(&shape.name_zh, &shape.name_en).trim_end_matches('市');
        let _ = write!(
            svg,
            r#"<text class="map-label" x="{x:.1}" y="{y:.1}" text-anchor="middle" aria-hidden="true">{name}</text>"#,
            x = shape.label_x,
            y = shape.label_y,
            name = esc(name),
        );
    }
    svg.push_str("</svg>");
    let mut legend = format!(r#"<ul class="legend" aria-label="{}">"#, esc(lang.t("图例", "Legend")));
    for (class, colour) in DENSITY_COLOURS.iter().enumerate() {
        let range = match class {
            0 => "0".to_string(),
            _ => format!(
                "{}–{}",
                (max as f64 * (class as f64 - 1.0) / 4.0).floor() as u64 + 1,
                (max as f64 * class as f64 / 4.0).ceil() as u64
            ),
        };
        let _ = write!(legend, r#"<li><span class="swatch" style="background:{colour}"></span>{range}</li>"#);
    }
    legend.push_str("</ul>");
    svg + &legend
}

const FLOW_WIDTH: f64 = 640.0;
const FLOW_HEIGHT: f64 = 340.0;
const NODE_WIDTH: f64 = 14.0;
const NODE_GAP: f64 = 14.0;
const FLOW_LABEL_SPACE: f64 = 150.0;

fn role_colour(role: &str) -> &'static str {
    match role {
        "r_and_d" => "#3f83c4",
        "manufacturing" => "#e07b39",
        _ => "#4a9d6b",
    }
}

fn role_label(role: &str, lang: Lang) -> &'static str {
    match role {
        "r_and_d" => lang.t("研发", "R&D"),
        "manufacturing" => lang.t("制造", "Manufacturing"),
        "scenario" => lang.t("应用场景", "Application site"),
        _ => lang.t("其他", "Other"),
    }
}

fn node_label(code: &str, fallback: &str, lang: Lang) -> String {
    match (code, lang) {
        ("110000", Lang::En) => "Beijing (excl. Fengtai)".to_string(),
        ("110106", Lang::En) => "Fengtai".to_string(),
        (_, Lang::En) => labels::region_short(code, lang),
        _ => fallback.to_string(),
    }
}

/// A Sankey-style chart: head-office region on the left, branch region on the right, one band per
/// (from, to, role) with its width proportional to the enterprises.
pub fn flow_chart(flows: &[Flow], lang: Lang) -> String {
    let order = ["110106", "110000", "120000", "130000"];
    let rank = |code: &str| order.iter().position(|c| *c == code).unwrap_or(order.len());
    let mut bands: Vec<&Flow> = flows.iter().filter(|f| f.enterprises > 0).collect();
    bands.sort_by_key(|f| (rank(&f.from), rank(&f.to), f.role.clone()));
    let mut out_total: BTreeMap<(usize, String), u64> = BTreeMap::new();
    let mut in_total: BTreeMap<(usize, String), u64> = BTreeMap::new();
    let mut names: HashMap<String, String> = HashMap::new();
    for band in &bands {
        *out_total.entry((rank(&band.from), band.from.clone())).or_default() += band.enterprises;
        *in_total.entry((rank(&band.to), band.to.clone())).or_default() += band.enterprises;
        names.insert(band.from.clone(), band.from_name.clone());
        names.insert(band.to.clone(), band.to_name.clone());
    }
    let total: u64 = bands.iter().map(|b| b.enterprises).sum();
    let mut svg = format!(
        r#"<svg id="flow-chart" class="chart flow" viewBox="0 0 {FLOW_WIDTH} {FLOW_HEIGHT}" role="img" aria-labelledby="flow-chart-title" xmlns="http://www.w3.org/2000/svg"><title id="flow-chart-title">{}</title>"#,
        esc(lang.t(
            "跨区域企业布局：总部所在地 → 分支机构所在地（带宽 ∝ 企业数）",
            "Cross-region enterprise layout: head-office region → branch region (band width ∝ enterprises)"
        )),
    );
    if total == 0 {
        let _ = write!(
            svg,
            r#"<text x="20" y="40">{}</text></svg>"#,
            esc(lang.t("暂无跨区域布局数据", "No cross-region data yet"))
        );
        return svg;
    }
    let gaps = |n: usize| NODE_GAP * (n.saturating_sub(1)) as f64;
    let usable = FLOW_HEIGHT - 20.0 - gaps(out_total.len().max(in_total.len()));
    let scale = usable / total as f64;
    let left_x = FLOW_LABEL_SPACE;
    let right_x = FLOW_WIDTH - FLOW_LABEL_SPACE - NODE_WIDTH;
    let place = |totals: &BTreeMap<(usize, String), u64>| -> HashMap<String, f64> {
        let mut y = 10.0;
        let mut tops = HashMap::new();
        for ((_, code), value) in totals {
            tops.insert(code.clone(), y);
            y += *value as f64 * scale + NODE_GAP;
        }
        tops
    };
    let left_tops = place(&out_total);
    let right_tops = place(&in_total);
    let mut left_cursor = left_tops.clone();
    let mut right_cursor = right_tops.clone();
    // Bands into a right node are stacked in left-node order, so they do not cross inside it.
    let mut by_target: Vec<&Flow> = bands.clone();
    by_target.sort_by_key(|f| (rank(&f.to), rank(&f.from), f.role.clone()));
    let mut target_offsets: HashMap<(String, String, String), f64> = HashMap::new();
    for band in &by_target {
        let y = right_cursor.get_mut(&band.to).expect("every target has a node");
        target_offsets.insert((band.from.clone(), band.to.clone(), band.role.clone()), *y);
        *y += band.enterprises as f64 * scale;
    }
    for band in &bands {
        let width = (band.enterprises as f64 * scale).max(1.0);
        let y0 = *left_cursor.get(&band.from).unwrap_or(&0.0);
        *left_cursor.get_mut(&band.from).expect("every source has a node") += band.enterprises as f64 * scale;
        let y1 = target_offsets[&(band.from.clone(), band.to.clone(), band.role.clone())];
        let x0 = left_x + NODE_WIDTH;
        let x1 = right_x;
        let xm = (x0 + x1) / 2.0;
        let from = node_label(&band.from, &band.from_name, lang);
        let to = node_label(&band.to, &band.to_name, lang);
        let _ = write!(
            svg,
            r#"<path class="band" data-from="{f}" data-to="{t}" data-role="{r}" data-enterprises="{n}" fill="{c}" d="M{x0:.1},{y0:.1}C{xm:.1},{y0:.1} {xm:.1},{y1:.1} {x1:.1},{y1:.1}L{x1:.1},{y1b:.1}C{xm:.1},{y1b:.1} {xm:.1},{y0b:.1} {x0:.1},{y0b:.1}Z"><title>{from} → {to}（{role}）：{n} {unit}</title></path>"#,
            f = band.from,
            t = band.to,
            r = esc(&band.role),
            n = band.enterprises,
            c = role_colour(&band.role),
            y1b = y1 + width,
            y0b = y0 + width,
            from = esc(&from),
            to = esc(&to),
            role = role_label(&band.role, lang),
            unit = lang.t("家企业", "enterprises"),
        );
    }
    for ((_, code), value) in &out_total {
        let top = left_tops[code];
        let height = *value as f64 * scale;
        let name = node_label(code, &names[code], lang);
        let _ = write!(
            svg,
            r#"<rect class="node" x="{left_x}" y="{top:.1}" width="{NODE_WIDTH}" height="{height:.1}"><title>{n}: {value}</title></rect><text class="node-label" x="{lx}" y="{ly:.1}" text-anchor="end">{n} <tspan class="num">{value}</tspan></text>"#,
            n = esc(&name),
            lx = left_x - 6.0,
            ly = top + height / 2.0 + 4.0,
        );
    }
    for ((_, code), value) in &in_total {
        let top = right_tops[code];
        let height = *value as f64 * scale;
        let name = node_label(code, &names[code], lang);
        let _ = write!(
            svg,
            r#"<rect class="node" x="{right_x}" y="{top:.1}" width="{NODE_WIDTH}" height="{height:.1}"><title>{n}: {value}</title></rect><text class="node-label" x="{lx}" y="{ly:.1}">{n} <tspan class="num">{value}</tspan></text>"#,
            n = esc(&name),
            lx = right_x + NODE_WIDTH + 6.0,
            ly = top + height / 2.0 + 4.0,
        );
    }
    svg.push_str("</svg>");
    let mut legend = format!(r#"<ul class="legend" aria-label="{}">"#, esc(lang.t("图例", "Legend")));
    let mut roles: Vec<&str> = bands.iter().map(|b| b.role.as_str()).collect();
    roles.sort();
    roles.dedup();
    for role in roles {
        let _ = write!(
            legend,
            r#"<li><span class="swatch" style="background:{}"></span>{}</li>"#,
            role_colour(role),
            role_label(role, lang)
        );
    }
    legend.push_str("</ul>");
    svg + &legend
}

/// One bar of a bar chart.
pub struct Bar {
    pub label: String,
    pub value: u64,
    pub href: String,
}

/// A horizontal bar chart; each bar links to a search.
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> String {
    let row = 28.0;
    let label_width = 190.0;
    let bar_space = 300.0;
    let width = label_width + bar_space + 60.0;
    let height = row * bars.len() as f64 + 4.0;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let mut svg = format!(
        r#"<svg id="{id}" class="chart bars" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-title" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title>"#,
        esc(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = i as f64 * row + 2.0;
        let length = (bar.value as f64 / max as f64 * bar_space).max(if bar.value > 0 { 2.0 } else { 0.0 });
        let label: String = if bar.label.chars().count() > 14 {
            bar.label.chars().take(13).collect::<String>() + "…"
        } else {
            bar.label.clone()
        };
        let _ = write!(
            svg,
            r#"<a href="{href}"><text class="bar-label" x="{lx}" y="{ty:.1}" text-anchor="end">{label}<title>{full}</title></text><rect class="bar" x="{label_width}" y="{y:.1}" width="{length:.1}" height="{bh}"><title>{full}: {value}</title></rect><text class="bar-value" x="{vx:.1}" y="{ty:.1}">{value}</text></a>"#,
            href = esc(&bar.href),
            lx = label_width - 8.0,
            ty = y + 17.0,
            label = esc(&label),
            full = esc(&bar.label),
            bh = row - 8.0,
            vx = label_width + length + 6.0,
            value = bar.value,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Link to a search with these parameters.
pub fn search_href(pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode_component(v))).collect();
    format!("/search?{}", query.join("&"))
}

/// A conversion funnel: one centred band per stage, its width proportional to the stage's count
/// (the first stage is the widest the chart draws), with the count and its share of the
/// previous stage. Drawn as inline SVG, no script.
pub fn funnel_chart(id: &str, title: &str, stages: &[(String, &'static str, u64)]) -> String {
    let row = 40.0;
    let width = 560.0;
    let centre = 300.0;
    let widest = 340.0;
    let height = row * stages.len() as f64 + 4.0;
    let max = stages.iter().map(|s| s.2).max().unwrap_or(0).max(1);
    let mut svg = format!(
        r#"<svg id="{id}" class="chart funnel" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-title" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title>"#,
        esc(title)
    );
    let mut previous: Option<u64> = None;
    for (i, (label, key, value)) in stages.iter().enumerate() {
        let y = i as f64 * row + 2.0;
        let band = (*value as f64 / max as f64 * widest).max(if *value > 0 { 4.0 } else { 1.0 });
        let share = match previous {
            Some(before) if before > 0 => format!(" ({:.0}%)", *value as f64 / before as f64 * 100.0),
            _ => String::new(),
        };
        let _ = write!(
            svg,
            r#"<g data-stage="{key}"><text class="bar-label" x="{lx}" y="{ty:.1}" text-anchor="end">{label}</text><rect class="bar funnel-stage" x="{x:.1}" y="{y:.1}" width="{band:.1}" height="{bh}" rx="3"><title>{label}: {value}</title></rect><text class="bar-value" x="{vx:.1}" y="{ty:.1}" data-value="{value}">{value}{share}</text></g>"#,
            lx = centre - widest / 2.0 - 10.0,
            ty = y + 23.0,
            label = esc(label),
            x = centre - band / 2.0,
            bh = row - 8.0,
            vx = centre + widest / 2.0 + 10.0,
        );
        previous = Some(*value);
    }
    svg.push_str("</svg>");
    svg
}
