// Job page: follow the job's stage and progress, then open the result (or say why it failed).
(function () {
  const card = document.getElementById("job");
  if (!card || !["queued", "running"].includes(card.dataset.status)) return;
  const bar = document.getElementById("bar");
  const status = document.getElementById("status");
  const stages = Array.from(document.querySelectorAll("#stages li"));

  function mark(stage) {
    const current = stages.findIndex((li) => li.dataset.stage === stage);
    stages.forEach((li, i) => {
      li.classList.toggle("done", current > i);
      li.classList.toggle("current", current === i);
      if (current === i) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    });
  }

  async function poll() {
    let job;
    try {
      const response = await fetch(`/v1/jobs/${card.dataset.job}`, { headers: { Accept: "application/json" } });
      job = await response.json();
    } catch (err) {
      setTimeout(poll, 2000);
      return;
    }
    bar.value = job.progress;
    mark(job.stage);
    const current = stages.find((li) => li.dataset.stage === job.stage);
    status.textContent = current ? current.textContent : job.status;
    if (job.status === "done") { window.location.assign(`/reports/${job.report_id}`); return; }
    if (job.status === "failed") {
      document.getElementById("reason").textContent = job.error;
      document.getElementById("failed").hidden = false;
      status.textContent = card.dataset.msgFailed;
      return;
    }
    setTimeout(poll, 700);
  }
  poll();
})();
