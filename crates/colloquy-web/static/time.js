// Progressive enhancement: show <time data-local> values in the reader's own time zone, and
// <time data-relative> as "3 hours ago" (the exact time stays in the tooltip). Without
// JavaScript the page shows exact dates.
(function () {
  document.querySelectorAll("time[data-local]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.title = d.toLocaleString();
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
})();
