/* Polls a bulk issuing run and updates its progress bar. */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) return;
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) {
          // Logged out or no longer allowed: the JSON refusal says so; polling stops.
          return r.json().then(function (refusal) {
            document.getElementById("job-error").textContent = refusal.message;
            return null;
          });
        }
        return r.json();
      })
      .then(function (job) {
        if (!job) return;
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
