// Upload page: drag-and-drop onto the drop zone, and checks of type and size before anything is sent.
// The form itself posts normally; the server's answer is the job's progress page or an error page.
(function () {
  const form = document.getElementById("upload-form");
  const input = document.getElementById("file");
  const zone = document.getElementById("dropzone");
  const chosen = document.getElementById("chosen");
  const error = document.getElementById("client-error");
  const text = (name) => form.dataset[name];

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  async function problemWith(file) {
    if (!file) return text("msgNone");
    if (!file.name.toLowerCase().endsWith(".pdf") && file.type !== "application/pdf") return text("msgType");
    if (file.size === 0) return text("msgEmpty");
    if (file.size > Number(form.dataset.maxBytes)) return text("msgSize");
    const head = await file.slice(0, 1024).text();
    if (!head.includes("%PDF-")) return text("msgMagic");
    return "";
  }

  function showChosen() {
    const file = input.files[0];
    chosen.textContent = file ? `${file.name} · ${(file.size / 1048576).toFixed(1)} MB` : "";
    error.hidden = true;
  }

  input.addEventListener("change", showChosen);
  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("dragging")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showChosen();
    }
  });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
  });

  let checked = false;
  form.addEventListener("submit", async (event) => {
    if (checked) return;
    event.preventDefault();
    const problem = await problemWith(input.files[0]);
    if (problem) { showError(problem); return; }
    checked = true;
    document.getElementById("analyse").disabled = true;
    chosen.textContent = text("msgUploading");
    form.submit();
  });
})();
