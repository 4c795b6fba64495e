// Result page: the wheel tells a goal's score on hover or focus; choosing a goal, step or target loads
// its evidence in place (the server renders the list, so all report text arrives escaped).
(function () {
  const browser = document.getElementById("evidence-browser");
  const caption = document.getElementById("wheel-caption");
  const reportId = browser.dataset.report;

  async function load(label, part) {
    const query = new URLSearchParams({ label: label, part: part || "" });
    const response = await fetch(`/reports/${reportId}/evidence?${query}`);
    browser.innerHTML = await response.text();
    history.replaceState(null, "", `?${query}#evidence`);
  }

  function open(label) {
    load(label, "").then(() => {
      document.getElementById("evidence").scrollIntoView({ behavior: "smooth" });
      document.getElementById("evidence-label").focus({ preventScroll: true });
    });
  }

  document.querySelectorAll(".wheel-segment").forEach((segment) => {
    const tell = () => { caption.textContent = segment.querySelector("title").textContent; };
    segment.addEventListener("mouseenter", tell);
    segment.addEventListener("focus", tell);
    segment.addEventListener("click", (event) => { event.preventDefault(); open(segment.dataset.label); });
  });
  document.querySelectorAll(".evidence-link").forEach((link) => {
    link.addEventListener("click", (event) => { event.preventDefault(); open(link.dataset.label); });
  });
  browser.addEventListener("change", (event) => {
    const label = document.getElementById("evidence-label").value;
    const part = event.target.id === "evidence-part" ? event.target.value : "";
    load(label, part);
  });
  const print = document.querySelector("[data-print]");
  if (print) print.addEventListener("click", () => window.print());
})();
