// Upload a PDF, then poll its job until done (redirect to the result) or failed (show why).
(function () {
  const form = document.getElementById("upload-form");
  const input = document.getElementById("file");
  const progress = document.getElementById("progress");
  const stage = document.getElementById("stage");
  const bar = document.getElementById("bar");
  const error = document.getElementById("error");

  function fail(message) {
    progress.hidden = true;
    error.textContent = message;
    error.hidden = false;
  }

  async function poll(jobId) {
    const response = await fetch(`/v1/jobs/${jobId}`);
    const job = await response.json();
    if (job.status === "done") { window.location = `/reports/${job.report_id}`; return; }
    if (job.status === "failed") { fail(`Processing failed: ${job.error}`); return; }
    stage.textContent = `Processing: ${job.stage}`;
    bar.value = job.progress;
    setTimeout(() => poll(jobId), 1000);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const file = input.files[0];
    if (!file) { fail("Choose a PDF file first."); return; }
    if (file.size > Number(input.dataset.maxBytes)) { fail("The file is larger than the upload limit."); return; }
    if (!file.name.toLowerCase().endsWith(".pdf")) { fail("Only PDF files can be analysed."); return; }
    progress.hidden = false;
    stage.textContent = "Uploading…";
    const response = await fetch("/v1/reports", { method: "POST", body: new FormData(form) });
    const body = await response.json();
    if (!response.ok) { fail(body.detail || "The upload was refused."); return; }
    poll(body.id);
  });
})();
