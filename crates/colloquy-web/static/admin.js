// The editor's live preview: renders the Markdown through the server's own renderer and
// sanitiser, so what the author sees is exactly what readers will get. Without JavaScript
// the editor still works; only the preview is missing.
(function () {
  var form = document.querySelector("form.editor");
  if (!form) return;
  var source = document.getElementById("body_markdown");
  var target = document.getElementById("preview");
  var timer = null;
  function update() {
    fetch(form.dataset.preview, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
      body: JSON.stringify({ markdown: source.value }),
      credentials: "same-origin"
    })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (j) {
        target.innerHTML = j.html;
        var guard = document.getElementById("guard");
        if (!guard) return;
        guard.textContent = "";
        if (j.findings && j.findings.length) {
          var p = document.createElement("p");
          p.className = "error";
          p.textContent = "The confidentiality guard found what may identify someone: " +
            j.findings.map(function (f) { return f.what + " (“" + f.text + "”)"; }).join("; ") +
            ". Edit it, or tick “Publish anyway”.";
          guard.appendChild(p);
        }
      })
      .catch(function () { target.textContent = "The preview could not be loaded."; });
  }
  source.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  });
  if (source.value) update();
})();
