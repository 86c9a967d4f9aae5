// Progressive enhancement: show <time data-local> values in the reader's own time zone.
(function () {
  document.querySelectorAll("time[data-local]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.title = d.toLocaleString();
  });
})();
