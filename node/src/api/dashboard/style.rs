//! The dashboard's stylesheet, inlined so the page needs no other request.

/// Inline CSS of the page.
pub(crate) const CSS: &str = r#"
:root{--ink:#1b2430;--dim:#5d6b7a;--line:#d8dee6;--bg:#f4f6f9;--card:#fff;--accent:#1f4e79;
--ok:#2e7d5b;--warn:#c98a00;--bad:#b3261e}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header.top{background:var(--accent);color:#fff;padding:18px 32px}
header.top h1{margin:0;font-size:22px;font-weight:600;letter-spacing:.2px}
header.top .sub{opacity:.85;margin-top:4px}
main{max-width:1240px;margin:0 auto;padding:20px 24px 48px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:0 0 18px}
.card h2{margin:0 0 10px;font-size:17px;color:var(--accent)}
.card h3{margin:14px 0 6px;font-size:14px}
.lead{color:var(--dim);margin:0 0 10px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}
@media (max-width:1100px){.grid2{grid-template-columns:1fr}}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.root{word-break:break-all;font-size:13px;background:#eef2f7;padding:4px 8px;border-radius:4px}
.dim{color:var(--dim)}
.time{white-space:nowrap}
.small{font-size:12px}
.strong{font-weight:600}
.note{color:var(--dim);font-style:italic}
.ok-note{color:var(--ok)}
.alarm{color:var(--bad);font-style:normal}
dl.kv{display:grid;grid-template-columns:160px 1fr;gap:6px 12px;margin:0 0 8px}
dl.kv dt{color:var(--dim)}
dl.kv dd{margin:0}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--dim);font-weight:600;background:#fafbfc}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.flagged td{background:#fdf1f0}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
ul.suites{list-style:none;padding:0;margin:0}
ul.suites li{padding:6px 0;border-bottom:1px solid var(--line)}
.suite-name{font-weight:600}
a.round{display:inline-block;margin:0 4px;padding:2px 10px;border:1px solid var(--accent);border-radius:12px;color:var(--accent);text-decoration:none;font-size:12px}
a.round.current{background:var(--accent);color:#fff}
.toggle{margin:10px 0 0;color:var(--dim)}
.toggle a{color:var(--accent)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11px;font-weight:600;color:#fff;margin-right:4px}
.badge.ok{background:var(--ok)}.badge.warn{background:var(--warn)}.badge.bad{background:var(--bad)}
ul.flags{list-style:none;padding:0;margin:0}
li.flag{padding:8px 0;border-bottom:1px solid var(--line)}
li.flag ul{margin:4px 0 0 18px;padding:0;color:var(--ink)}
.summary{display:flex;gap:14px;flex-wrap:wrap;margin:0 0 18px}
.summary .tile{flex:1 1 160px;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px}
.tile .big{font-size:24px;font-weight:600;color:var(--accent)}
.tile .lbl{color:var(--dim);font-size:12.5px}
figure.chart-box{margin:0;padding:0}
.chart-title{font-weight:600;font-size:13px;margin:4px 0 4px}
svg.chart{width:100%;height:auto;display:block;background:#fff}
svg.chart text{font-size:11px;fill:var(--ink)}
svg.chart .tick{fill:var(--dim);font-size:10px}
svg.chart .axis-label{fill:var(--dim);font-size:11px}
svg.chart .cat{font-size:11.5px}
svg.chart .val{font-size:10.5px;fill:var(--dim)}
svg.chart .na{fill:var(--dim);font-style:italic}
svg.chart .grid{stroke:#e8ecf1;stroke-width:1}
svg.chart .grid.zero{stroke:#9aa5b1}
svg.chart .frame{fill:none;stroke:var(--line)}
svg.chart .band.warn{fill:#fff4d6}
svg.chart .band.bad{fill:#fde4e1}
svg.chart .bar.ok{fill:#3d6f99}
svg.chart .bar.warn{fill:var(--warn)}
svg.chart .bar.bad{fill:var(--bad)}
svg.chart .rule{stroke-width:1.4;fill:none}
svg.chart .rule.crit5{stroke:var(--warn);stroke-dasharray:5 3}
svg.chart .rule.crit1{stroke:var(--bad);stroke-dasharray:2 2}
svg.chart .rule.assigned{stroke:var(--accent);stroke-dasharray:6 3}
svg.chart .rule-label{font-size:10px}
svg.chart .rule-label.crit5{fill:var(--warn)}
svg.chart .rule-label.crit1{fill:var(--bad)}
svg.chart .rule-label.assigned{fill:var(--accent)}
svg.chart .point{stroke:#fff;stroke-width:1.5}
svg.chart .point-label{font-size:10.5px}
svg.chart .series{fill:none;stroke-width:2}
svg.chart .series.dashed{stroke-dasharray:5 3}
.chart-empty{border:1px dashed var(--line);border-radius:6px;padding:10px 14px;background:#fafbfc}
.chart-empty p{margin:4px 0 0;color:var(--dim);font-style:italic}
.chart-note{font-size:11.5px;color:var(--dim);margin:2px 0 6px}
.chart-note i.key{display:inline-block;width:18px;height:0;border-top:2px dashed var(--warn);vertical-align:3px;margin:0 3px 0 6px}
.chart-note i.key.crit1{border-top:2px dotted var(--bad)}
.legend{display:flex;flex-wrap:wrap;gap:12px;margin:6px 0;font-size:12px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.s0{fill:#1f77b4;stroke:#1f77b4;background:#1f77b4}.s1{fill:#d62728;stroke:#d62728;background:#d62728}
.s2{fill:#2ca02c;stroke:#2ca02c;background:#2ca02c}.s3{fill:#9467bd;stroke:#9467bd;background:#9467bd}
.s4{fill:#ff7f0e;stroke:#ff7f0e;background:#ff7f0e}.s5{fill:#8c564b;stroke:#8c564b;background:#8c564b}
.s6{fill:#e377c2;stroke:#e377c2;background:#e377c2}.s7{fill:#17becf;stroke:#17becf;background:#17becf}
.s8{fill:#7f7f7f;stroke:#7f7f7f;background:#7f7f7f}.s9{fill:#bcbd22;stroke:#bcbd22;background:#bcbd22}
svg.chart .series.s0,svg.chart .series.s1,svg.chart .series.s2,svg.chart .series.s3,svg.chart .series.s4,
svg.chart .series.s5,svg.chart .series.s6,svg.chart .series.s7,svg.chart .series.s8,svg.chart .series.s9{fill:none}
.measurand{border-top:1px solid var(--line);padding-top:12px;margin-top:12px}
.measurand:first-of-type{border-top:0;margin-top:0;padding-top:0}
.measurand h3{font-size:15px;margin:0 0 8px}
td details summary{margin:0;font-size:12px}
td details div{font-size:12px;color:var(--dim)}
.badge.yours{background:#5b2a86}
tr.yours td{background:#f1e9fa;font-weight:600}
tr.yours td:first-child{box-shadow:inset 4px 0 0 #5b2a86}
li.yours{background:#f1e9fa;font-weight:600}
.yours-note{border-color:#5b2a86;background:#f7f2fc}
svg.chart .yours-row{fill:#5b2a86;fill-opacity:.1}
svg.chart .cat.yours{font-weight:700;fill:#5b2a86}
svg.chart .bar.yours{stroke:#1b1030;stroke-width:2.5}
svg.chart .point.yours{stroke:#1b1030;stroke-width:2.5}
svg.chart .point-label.yours{font-weight:700}
svg.chart .series.yours{stroke-width:3.5}
svg.chart .marker.yours{stroke:#1b1030;stroke-width:1.5}
.legend .yours{font-weight:700}
footer{color:var(--dim);font-size:12px;text-align:center;padding:12px}
"#;
