// Progressive enhancement for the "Leave a Reply" form. Cached pages cannot carry a fresh
// signed time stamp, so the form asks for one when the page loads. Without JavaScript the
// server shows the thought back once with a stamp, and sending it again posts it.
(function () {
  document.querySelectorAll("form.thought-form").forEach(function (form) {
    var stamp = form.querySelector("input[name=stamp]");
    if (!stamp || stamp.value) return;
    fetch("/thoughts/token?post=" + encodeURIComponent(form.dataset.post), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (j) { stamp.value = j.stamp; })
      .catch(function () {});
  });
})();
