// Progressive enhancement: show <time data-local> values in the reader's own time zone, and
// <time data-relative> as "3 hours ago" (the exact time stays in the tooltip). Without
// JavaScript the page shows exact dates.
(function () {
  document.querySelectorAll("time[data-local]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.title = d.toLocaleString();
  });
  // A debate's start in the reader's own zone, with the zone named.
  document.querySelectorAll("time[data-local-text]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) return;
    t.textContent = d.toLocaleString(undefined, { weekday: "long", day: "numeric", month: "long", hour: "numeric", minute: "2-digit", timeZoneName: "short" });
  });
  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, { numeric: "auto" }) : null;
  if (!rtf) return;
  var units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  document.querySelectorAll("time[data-relative]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) return;
    var secs = Math.round((d.getTime() - Date.now()) / 1000);
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(secs) >= units[i][1] || units[i][0] === "second") {
        t.textContent = rtf.format(Math.round(secs / units[i][1]), units[i][0]);
        break;
      }
    }
  });
  // Countdowns to a debate's start ("starts in 3 hours"), refreshed each minute. Not a live
  // region: screen readers read it when they reach it, not every minute.
  var countdowns = document.querySelectorAll("[data-countdown]");
  function tick() {
    countdowns.forEach(function (c) {
      var d = new Date(c.getAttribute("data-countdown"));
      if (isNaN(d)) return;
      var secs = Math.round((d.getTime() - Date.now()) / 1000);
      if (secs <= 0) { c.textContent = " · starting now"; return; }
      for (var i = 0; i < units.length; i++) {
        if (secs >= units[i][1] || units[i][0] === "second") {
          c.textContent = " · starts " + rtf.format(Math.round(secs / units[i][1]), units[i][0]);
          break;
        }
      }
    });
  }
  if (countdowns.length) { tick(); setInterval(tick, 60000); }
})();
