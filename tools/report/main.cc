// cs-report: the portfolio report as one self-contained HTML file (inline CSS and SVG
// charts, no scripts), read from the three services' public APIs.
//
//   cs-report --html report.html [--health-addr 127.0.0.1:50051]
//             [--playbooks-addr 127.0.0.1:50052] [--expansion-addr 127.0.0.1:50053]
//             [--at-risk 10] [--months 6] [--weeks 12]
//
// Sections: band distribution overall and per tier against the 80/15/5 target, the
// portfolio's band trend (replayed weekly by BacktestScorecard), pipeline by stage,
// NRR/GRR by month, the most at-risk accounts with their evidence, open escalations
// by level and SLA attainment. A section whose service cannot be reached says so
// instead of failing the report. Exit codes: 0 written, 1 failed, 2 bad usage.

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"

namespace cs::report {
namespace {

namespace hv1 = ::cs::health::v1;
namespace pv1 = ::cs::playbooks::v1;
namespace ev1 = ::cs::expansion::v1;
using HealthStub = hv1::AccountHealthService::Stub;
using ExpansionStub = ev1::ExpansionService::Stub;
using PlaybooksStub = pv1::PlaybookService::Stub;

constexpr const char* kGreen = "#2e9d5b";
constexpr const char* kYellow = "#e6b422";
constexpr const char* kRed = "#d64541";

struct Options {
  std::string html;
  std::string health_addr = "127.0.0.1:50051";
  std::string playbooks_addr = "127.0.0.1:50052";
  std::string expansion_addr = "127.0.0.1:50053";
  int at_risk = 10;
  int months = 6;
  int weeks = 12;
};

std::string Esc(absl::string_view in) {
  std::string out;
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Money(int64_t minor) {
  const double v = minor / 100.0;
  if (std::abs(v) >= 1e6) return absl::StrFormat("$%.2fM", v / 1e6);
  if (std::abs(v) >= 1e3) return absl::StrFormat("$%.1fk", v / 1e3);
  return absl::StrFormat("$%.0f", v);
}

std::string Pct(double share) { return absl::StrFormat("%.1f%%", 100 * share); }

std::string TierName(int tier) {
  switch (tier) {
    case 1: return "Enterprise";
    case 2: return "Mid-market";
    case 3: return "SMB";
    case 4: return "Solo";
  }
  return "All accounts";
}

std::string Trim(std::string name, size_t prefix) { return name.size() > prefix ? name.substr(prefix) : name; }

std::string Unavailable(absl::string_view what, const absl::Status& s) {
  return absl::StrCat("<p class=\"na\">", Esc(what), " unavailable: ", Esc(s.ToString()), "</p>");
}

cs::common::v1::Date DateOf(absl::CivilDay d) {
  cs::common::v1::Date out;
  out.set_year(static_cast<int32_t>(d.year()));
  out.set_month(d.month());
  out.set_day(d.day());
  return out;
}

// One horizontal bar split into GREEN/YELLOW/RED shares, with the target marks.
std::string BandBar(const std::string& label, double g, double y, double r, int64_t n, int row) {
  const double x0 = 140, w = 560, top = 10 + row * 34;
  std::string out = absl::StrFormat("<text x=\"0\" y=\"%.0f\" class=\"lbl\">%s (%d)</text>", top + 16, Esc(label), n);
  double x = x0;
  for (auto [share, color] : {std::pair<double, const char*>{g, kGreen}, {y, kYellow}, {r, kRed}}) {
    if (share > 0) {
      absl::StrAppendFormat(&out, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"22\" fill=\"%s\"/>", x, top,
                            share * w, color);
      if (share * w > 34) {
        absl::StrAppendFormat(&out, "<text x=\"%.1f\" y=\"%.0f\" class=\"in\">%.0f%%</text>", x + 4, top + 16,
                              share * 100);
      }
    }
    x += share * w;
  }
  // The 80/15/5 target: lines where GREEN and GREEN+YELLOW should end.
  for (double t : {0.80, 0.95}) {
    absl::StrAppendFormat(&out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" class=\"target\"/>", x0 + t * w,
                          x0 + t * w, top - 3, top + 25);
  }
  return out;
}

std::string BandSection(client::ServiceClient<hv1::AccountHealthService>& health) {
  hv1::GetPortfolioSummaryRequest req;
  auto r = health.Call(&HealthStub::GetPortfolioSummary, req);
  std::string out = "<section id=\"bands\"><h2>Band distribution</h2>";
  if (!r.ok()) return out + Unavailable("Portfolio summary", r.status()) + "</section>";
  std::vector<hv1::BandDistribution> rows = {r->overall()};
  for (const auto& t : r->by_tier()) rows.push_back(t);
  absl::StrAppendFormat(&out, "<svg class=\"chart\" width=\"720\" height=\"%d\" viewBox=\"0 0 720 %d\" role=\"img\">",
                        rows.size() * 34 + 20, rows.size() * 34 + 20);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& d = rows[i];
    out += BandBar(TierName(d.tier()), d.green_share(), d.yellow_share(), d.red_share(), d.accounts(), i);
  }
  out += "</svg><p class=\"note\">Dashed lines: the 80 % GREEN / 15 % YELLOW / 5 % RED target.</p>";
  out += "<table><tr><th>Segment</th><th>Accounts</th><th>Green</th><th>Yellow</th><th>Red</th><th>Avg score</th>"
         "<th>vs target (G/Y/R)</th></tr>";
  for (const auto& d : rows) {
    absl::StrAppendFormat(&out,
                          "<tr><td>%s</td><td>%d</td><td>%d (%s)</td><td>%d (%s)</td><td>%d (%s)</td><td>%.1f</td>"
                          "<td>%+.0f / %+.0f / %+.0f pts</td></tr>",
                          TierName(d.tier()), d.accounts(), d.green(), Pct(d.green_share()), d.yellow(),
                          Pct(d.yellow_share()), d.red(), Pct(d.red_share()), d.average_score(),
                          100 * (d.green_share() - d.target_green_share()),
                          100 * (d.yellow_share() - d.target_yellow_share()),
                          100 * (d.red_share() - d.target_red_share()));
  }
  return out + "</table></section>";
}

// The portfolio's band shares week by week, replayed from the stored daily signal
// counters with the default scorecard (scores are only stored from the day they are
// computed, so the replay is what shows the past of a freshly loaded portfolio).
std::string TrendSection(client::ServiceClient<hv1::AccountHealthService>& health, int weeks) {
  std::string out = "<section id=\"trend\"><h2>Portfolio health trend</h2>";
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  hv1::BacktestScorecardRequest req;
  req.set_scorecard_id("default");
  req.set_horizon_days(1);
  for (int w = weeks - 1; w >= 0; --w) *req.add_as_of() = DateOf(today - 1 - 7 * w);
  // The replay reads every account's daily counters for each date: far slower than
  // the other calls on a big portfolio, so it gets its own, longer deadline.
  hv1::BacktestScorecardResponse replay;
  std::unique_ptr<grpc::ClientContext> context = health.NewContext(absl::Minutes(3));
  if (grpc::Status st = health.stub().BacktestScorecard(context.get(), req, &replay); !st.ok()) {
    return out + Unavailable("Score replay", client::FromGrpc(st)) + "</section>";
  }
  const hv1::BacktestScorecardResponse* r = &replay;
  const double x0 = 50, w = 640, h = 220, top = 10;
  const int n = r->by_date_size();
  std::string svg = absl::StrFormat("<svg class=\"chart\" width=\"720\" height=\"270\" viewBox=\"0 0 720 270\" role=\"img\">");
  for (int p : {0, 25, 50, 75, 100}) {
    const double y = top + h - h * p / 100.0;
    absl::StrAppendFormat(&svg, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                                "<text x=\"%.0f\" y=\"%.1f\" class=\"axis\">%d%%</text>", x0, x0 + w, y, y, 4.0, y + 4, p);
  }
  const double bw = n > 0 ? w / n : w;
  for (int i = 0; i < n; ++i) {
    const hv1::BacktestResult& b = r->by_date(i);
    int64_t counts[4] = {0, 0, 0, 0};
    for (const auto& band : b.bands()) counts[band.band()] = band.accounts();
    const double total = counts[1] + counts[2] + counts[3];
    double y = top + h;
    for (int band : {1, 2, 3}) {
      const double bh = total > 0 ? h * counts[band] / total : 0;
      y -= bh;
      absl::StrAppendFormat(&svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
                            x0 + i * bw + 2, y, bw - 4, bh, band == 1 ? kGreen : band == 2 ? kYellow : kRed);
    }
    absl::StrAppendFormat(&svg, "<text x=\"%.1f\" y=\"%.0f\" class=\"axis\">%02d-%02d</text>", x0 + i * bw + 6,
                          top + h + 16, b.as_of().month(), b.as_of().day());
  }
  // GREEN is stacked from the bottom, so its bar should reach the 80 % line.
  const double target_y = top + h - h * 0.80;
  absl::StrAppendFormat(&svg, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"target\"/>"
                              "<text x=\"%.0f\" y=\"%.1f\" class=\"axis\">80%%</text></svg>",
                        x0, x0 + w, target_y, target_y, x0 + w + 4, target_y + 4);
  out += svg;
  out += "<p class=\"note\">Share of scored accounts per band at the end of each week, replayed with the default "
         "scorecard from the stored signals (churned accounts leave the chart). The dashed line is the 80 % GREEN "
         "target.</p></section>";
  return out;
}

std::string PipelineSection(client::ServiceClient<ev1::ExpansionService>& expansion) {
  std::string out = "<section id=\"pipeline\"><h2>Expansion pipeline</h2>";
  ev1::GetPipelineSummaryRequest req;
  auto r = expansion.Call(&ExpansionStub::GetPipelineSummary, req);
  if (!r.ok()) return out + Unavailable("Pipeline", r.status()) + "</section>";
  absl::StrAppendFormat(&out, "<p class=\"kpi\">Open pipeline <b>%s</b> in %d opportunities; weighted <b>%s</b></p>",
                        Money(r->open().total().minor_units()), r->open().count(),
                        Money(r->open().weighted().minor_units()));
  int64_t max = 1;
  for (const auto& s : r->by_stage()) max = std::max(max, s.amounts().total().minor_units());
  std::string svg = absl::StrFormat("<svg class=\"chart\" width=\"720\" height=\"%d\" viewBox=\"0 0 720 %d\" role=\"img\">",
                                    r->by_stage_size() * 30 + 30, r->by_stage_size() * 30 + 30);
  int row = 0;
  for (const auto& s : r->by_stage()) {
    const double y = 8 + row * 30;
    const double tw = 420.0 * s.amounts().total().minor_units() / max;
    const double ww = 420.0 * s.amounts().weighted().minor_units() / max;
    absl::StrAppendFormat(&svg,
                          "<text x=\"0\" y=\"%.0f\" class=\"lbl\">%s (%d)</text>"
                          "<rect x=\"140\" y=\"%.0f\" width=\"%.1f\" height=\"20\" fill=\"#9db7e0\"/>"
                          "<rect x=\"140\" y=\"%.0f\" width=\"%.1f\" height=\"20\" fill=\"#2f5fa8\"/>"
                          "<text x=\"%.1f\" y=\"%.0f\" class=\"lbl\">%s / %s</text>",
                          y + 15, Esc(Trim(ev1::Stage_Name(s.stage()), 6)), s.amounts().count(), y, tw, y, ww,
                          146 + tw, y + 15, Money(s.amounts().total().minor_units()),
                          Money(s.amounts().weighted().minor_units()));
    ++row;
  }
  svg += absl::StrFormat("<rect x=\"140\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#9db7e0\"/><text x=\"158\" y=\"%d\" "
                         "class=\"axis\">total</text><rect x=\"210\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#2f5fa8\"/>"
                         "<text x=\"228\" y=\"%d\" class=\"axis\">weighted by probability</text></svg>",
                         row * 30 + 10, row * 30 + 20, row * 30 + 10, row * 30 + 20);
  return out + svg + "</section>";
}

std::string RetentionSection(client::ServiceClient<ev1::ExpansionService>& expansion, int months) {
  std::string out = "<section id=\"nrr\"><h2>Net and gross revenue retention</h2>";
  const absl::CivilMonth now(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()));
  struct Point {
    absl::CivilMonth month;
    double nrr = -1, grr = -1;
  };
  std::vector<Point> points;
  // Month by month: the cohort is the accounts paying before the month, so each point
  // is that month's own retention; the headline is the last quarter (three months).
  {
    ev1::GetRetentionMetricsRequest req;
    *req.mutable_period()->mutable_first_month() = DateOf(absl::CivilDay(now - 2));
    *req.mutable_period()->mutable_last_month() = DateOf(absl::CivilDay(now));
    auto r = expansion.Call(&ExpansionStub::GetRetentionMetrics, req);
    if (!r.ok()) return out + Unavailable("Retention", r.status()) + "</section>";
    const ev1::RetentionFigures& f = r->overall();
    if (f.has_net_revenue_retention()) {
      absl::StrAppendFormat(&out, "<p class=\"kpi\">Last 3 months: NRR <b>%s</b>, GRR <b>%s</b>, logo churn %s "
                                  "(%d of %d accounts), starting MRR %s.</p>",
                            Pct(f.net_revenue_retention()), Pct(f.gross_revenue_retention()),
                            Pct(f.logo_churn_period()), f.churned_accounts(), f.starting_accounts(),
                            Money(f.starting_mrr().minor_units()));
    } else {
      out += "<p class=\"kpi\">No revenue cohort before the window yet.</p>";
    }
  }
  for (int k = months - 1; k >= 0; --k) {
    const absl::CivilMonth last = now - k;
    ev1::GetRetentionMetricsRequest req;
    *req.mutable_period()->mutable_first_month() = DateOf(absl::CivilDay(last));
    *req.mutable_period()->mutable_last_month() = DateOf(absl::CivilDay(last));
    auto r = expansion.Call(&ExpansionStub::GetRetentionMetrics, req);
    if (!r.ok()) return out + Unavailable("Retention", r.status()) + "</section>";
    Point p{last};
    if (r->overall().has_net_revenue_retention()) p.nrr = r->overall().net_revenue_retention();
    if (r->overall().has_gross_revenue_retention()) p.grr = r->overall().gross_revenue_retention();
    points.push_back(p);
  }
  double lo = 0.95, hi = 1.05;
  for (const Point& p : points) {
    for (double v : {p.nrr, p.grr}) {
      if (v >= 0) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  }
  lo = std::floor(lo * 20) / 20, hi = std::ceil(hi * 20) / 20;
  const double x0 = 60, w = 600, top = 10, h = 200;
  auto X = [&](size_t i) { return x0 + (points.size() <= 1 ? w / 2 : w * i / (points.size() - 1)); };
  auto Y = [&](double v) { return top + h - h * (v - lo) / (hi - lo); };
  std::string svg = "<svg class=\"chart\" width=\"720\" height=\"250\" viewBox=\"0 0 720 250\" role=\"img\">";
  for (double v = lo; v <= hi + 1e-9; v += 0.05) {
    absl::StrAppendFormat(&svg, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                                "<text x=\"4\" y=\"%.1f\" class=\"axis\">%.0f%%</text>", x0, x0 + w, Y(v), Y(v),
                          Y(v) + 4, v * 100);
  }
  for (auto [which, color] : {std::pair<int, const char*>{0, "#2f5fa8"}, {1, "#8a8a8a"}}) {
    std::string path;
    for (size_t i = 0; i < points.size(); ++i) {
      const double v = which == 0 ? points[i].nrr : points[i].grr;
      if (v < 0) continue;
      absl::StrAppendFormat(&path, "%s%.1f,%.1f", path.empty() ? "M" : " L", X(i), Y(v));
      absl::StrAppendFormat(&svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>", X(i), Y(v), color);
      if (which == 0) {
        absl::StrAppendFormat(&svg, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\">%.1f%%</text>", X(i) - 14, Y(v) - 8,
                              v * 100);
      }
    }
    if (!path.empty()) absl::StrAppendFormat(&svg, "<path d=\"%s\" stroke=\"%s\" fill=\"none\" stroke-width=\"2\"/>", path, color);
  }
  for (size_t i = 0; i < points.size(); ++i) {
    absl::StrAppendFormat(&svg, "<text x=\"%.1f\" y=\"%.0f\" class=\"axis\">%d-%02d</text>", X(i) - 20, top + h + 22,
                          points[i].month.year(), points[i].month.month());
  }
  svg += "<rect x=\"560\" y=\"226\" width=\"12\" height=\"4\" fill=\"#2f5fa8\"/><text x=\"578\" y=\"232\" class=\"axis\">NRR</text>"
         "<rect x=\"620\" y=\"226\" width=\"12\" height=\"4\" fill=\"#8a8a8a\"/><text x=\"638\" y=\"232\" class=\"axis\">GRR</text></svg>";
  out += svg;
  out += "<p class=\"note\">Each point: one month's retention (the MRR at the month's end of the accounts paying "
         "before it, over their MRR before it; GRR caps each account at its starting MRR). No point: no cohort yet.</p></section>";
  return out;
}

std::string AtRiskSection(client::ServiceClient<hv1::AccountHealthService>& health, int limit) {
  std::string out = "<section id=\"at-risk\"><h2>Most at-risk accounts</h2>";
  hv1::ListAtRiskRequest req;
  req.add_bands(hv1::BAND_RED);
  req.add_bands(hv1::BAND_YELLOW);
  req.mutable_page()->set_page_size(limit);
  auto r = health.Call(&HealthStub::ListAtRisk, req);
  if (!r.ok()) return out + Unavailable("At-risk list", r.status()) + "</section>";
  if (r->accounts_size() == 0) return out + "<p>No account is YELLOW or RED.</p></section>";
  out += "<table><tr><th>Account</th><th>Tier</th><th>ARR</th><th>Score</th><th>30-day change</th><th>Evidence</th></tr>";
  for (const hv1::AtRiskAccount& a : r->accounts()) {
    hv1::GetHealthRequest hr;
    hr.set_account_id(a.account().account_id());
    auto h = health.Call(&HealthStub::GetHealth, hr);
    std::vector<std::string> evidence;
    std::string change = "&ndash;";
    if (h.ok()) {
      // Three open alerts keep a row readable; the count says how many more there are.
      const int alerts = h->health().open_alerts_size();
      for (int i = 0; i < alerts && i < 3; ++i) evidence.push_back(Esc(h->health().open_alerts(i).summary()));
      if (alerts > 3) evidence.push_back(absl::StrCat("and ", alerts - 3, " more open alerts"));
      // The weakest components say where the points went.
      std::vector<hv1::ComponentScore> comps(h->health().components().begin(), h->health().components().end());
      std::sort(comps.begin(), comps.end(), [](const auto& x, const auto& y) { return x.normalized() < y.normalized(); });
      for (size_t i = 0; i < comps.size() && i < 2; ++i) {
        if (comps[i].missing() || comps[i].normalized() >= 60) continue;
        evidence.push_back(absl::StrFormat("%s %.0f/100 (%s = %.2f)", Esc(Trim(hv1::Component_Name(comps[i].component()), 10)),
                                           comps[i].normalized(), Esc(comps[i].measure()), comps[i].raw()));
      }
      if (h->health().trend().has_change_30d()) change = absl::StrFormat("%+.1f", h->health().trend().change_30d());
    }
    absl::StrAppendFormat(&out,
                          "<tr><td>%s<br><span class=\"id\">%s</span></td><td>%s</td><td>%s</td>"
                          "<td><span class=\"pill %s\">%.0f</span></td><td>%s</td><td><ul>%s</ul></td></tr>",
                          Esc(a.account().name()), Esc(a.account().account_id()), TierName(a.account().tier()),
                          Money(a.account().arr().minor_units()), a.band() == hv1::BAND_RED ? "red" : "yellow",
                          a.score(), change,
                          evidence.empty() ? "<li>low score</li>" : "<li>" + absl::StrJoin(evidence, "</li><li>") + "</li>");
  }
  return out + "</table></section>";
}

std::string ProgramSection(client::ServiceClient<pv1::PlaybookService>& playbooks) {
  std::string out = "<section id=\"escalations\"><h2>Escalations and SLA attainment</h2>";
  pv1::GetProgramMetricsRequest req;
  auto r = playbooks.Call(&PlaybooksStub::GetProgramMetrics, req);
  if (!r.ok()) return out + Unavailable("Program metrics", r.status()) + "</section>";
  const pv1::ProgramMetrics& m = r->overall();
  absl::StrAppendFormat(&out, "<p class=\"kpi\">SLA attainment (last 30 days): <b>%s</b> (%d of %d tasks completed within their SLA). "
                              "Risk runs started: <b>%d</b>; intervention success %s.</p>",
                        m.tasks_completed() > 0 ? Pct(m.sla_attainment()) : "n/a", m.tasks_within_sla(),
                        m.tasks_completed(), m.risk_runs(), Pct(m.intervention_success_rate()));
  out += "<table><tr><th>Segment</th><th>Risk runs</th><th>Tasks completed</th><th>SLA attainment</th>"
         "<th>Open escalations by level</th></tr>";
  std::vector<pv1::ProgramMetrics> rows = {m};
  for (const auto& t : r->by_tier()) rows.push_back(t);
  for (const auto& p : rows) {
    std::map<int, int64_t> levels(p.open_escalations_by_level().begin(), p.open_escalations_by_level().end());
    std::vector<std::string> parts;
    for (auto [level, n] : levels) parts.push_back(absl::StrCat("L", level, ": ", n));
    absl::StrAppendFormat(&out, "<tr><td>%s</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td></tr>", TierName(p.tier()),
                          p.risk_runs(), p.tasks_completed(), p.tasks_completed() > 0 ? Pct(p.sla_attainment()) : "n/a",
                          parts.empty() ? "none" : absl::StrJoin(parts, ", "));
  }
  return out + "</table></section>";
}

constexpr const char* kStyle = R"css(
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222;background:#fafafa}
h1{margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px 18px 14px;margin-bottom:18px}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{border-bottom:1px solid #eee;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}ul{margin:0;padding-left:16px}
.chart text{font-size:12px;fill:#333}.chart .in{fill:#fff;font-weight:bold}.chart .axis{font-size:11px;fill:#666}
.chart .grid{stroke:#eee}.chart .target{stroke:#222;stroke-dasharray:4 3;stroke-width:1.5}
.note{color:#666;font-size:12px}.na{color:#a33}.kpi{font-size:15px}.id{color:#888;font-size:11px}
.pill{display:inline-block;min-width:28px;text-align:center;border-radius:10px;color:#fff;padding:1px 6px}
.pill.red{background:#d64541}.pill.yellow{background:#e6b422;color:#222}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
)css";

int Run(const Options& o) {
  auto at = [](const std::string& target) {
    client::ClientOptions options;
    options.target = target;
    return options;
  };
  auto health = client::ServiceClient<hv1::AccountHealthService>::Create(at(o.health_addr));
  auto playbooks = client::ServiceClient<pv1::PlaybookService>::Create(at(o.playbooks_addr));
  auto expansion = client::ServiceClient<ev1::ExpansionService>::Create(at(o.expansion_addr));
  if (!health.ok() || !playbooks.ok() || !expansion.ok()) {
    std::cerr << "cs-report: bad address\n";
    return 2;
  }
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Customer success portfolio report</title><style>";
  html += kStyle;
  html += "</style></head><body><h1>Customer success portfolio report</h1>";
  absl::StrAppendFormat(&html, "<p class=\"note\">Generated %s UTC.</p>",
                        absl::FormatTime("%Y-%m-%d %H:%M", absl::Now(), absl::UTCTimeZone()));
  html += "<p class=\"legend\">Bands:<span style=\"background:#2e9d5b\"></span>GREEN (&gt; 75)"
          "<span style=\"background:#e6b422\"></span>YELLOW (60-75)<span style=\"background:#d64541\"></span>RED (&lt; 60)</p>";
  html += BandSection(**health);
  html += TrendSection(**health, o.weeks);
  html += AtRiskSection(**health, o.at_risk);
  html += ProgramSection(**playbooks);
  html += PipelineSection(**expansion);
  html += RetentionSection(**expansion, o.months);
  html += "</body></html>\n";
  std::ofstream out(o.html, std::ios::trunc);
  out << html;
  out.close();
  if (!out) {
    std::cerr << "cs-report: cannot write " << o.html << "\n";
    return 1;
  }
  std::cout << "HTML report: " << o.html << "\n";
  return 0;
}

int Usage(const std::string& error) {
  if (!error.empty()) std::cerr << "cs-report: " << error << "\n";
  std::cerr << "usage: cs-report --html FILE [--health-addr H:P] [--playbooks-addr H:P] [--expansion-addr H:P]\n"
               "                 [--at-risk N (10)] [--months N (6)] [--weeks N (12)]\n";
  return 2;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return Usage("");
    if (i + 1 >= argc) return Usage(absl::StrCat("unknown or incomplete option ", arg));
    const std::string v = argv[++i];
    if (arg == "--html") o.html = v;
    else if (arg == "--health-addr") o.health_addr = v;
    else if (arg == "--playbooks-addr") o.playbooks_addr = v;
    else if (arg == "--expansion-addr") o.expansion_addr = v;
    else if (arg == "--at-risk") {
      if (!absl::SimpleAtoi(v, &o.at_risk) || o.at_risk < 1 || o.at_risk > 100) return Usage("--at-risk: must be 1-100");
    } else if (arg == "--weeks") {
      // BacktestScorecard replays at most 12 days per call.
      if (!absl::SimpleAtoi(v, &o.weeks) || o.weeks < 1 || o.weeks > 12) return Usage("--weeks: must be 1-12");
    } else if (arg == "--months") {
      if (!absl::SimpleAtoi(v, &o.months) || o.months < 1 || o.months > 24) return Usage("--months: must be 1-24");
    } else {
      return Usage(absl::StrCat("unknown option ", arg));
    }
  }
  if (o.html.empty()) return Usage("--html FILE is required");
  return Run(o);
}

}  // namespace
}  // namespace cs::report

int main(int argc, char** argv) { return cs::report::Main(argc, argv); }
