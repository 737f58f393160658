/* Polls a bulk issuing run and updates its progress bar. */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) return;
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        var bar = document.getElementById("job-progress");
        bar.max = job.total || 1;
        bar.value = job.done;
        document.getElementById("job-done").textContent = job.done;
        document.getElementById("job-total").textContent = job.total;
        document.getElementById("job-state").textContent = job.state;
        document.getElementById("job-error").textContent = job.error || "";
        if (job.state === "running") setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
