// The WeChat Pay cashier polls the order's status (GET /api/v1/order/success/) and goes to the
// result page once it is paid (code 100). Served from this origin: the pages' CSP allows no
// inline script.
(function () {
  var status = document.getElementById("status");
  if (!status || !status.dataset.poll) { return; }
  var poll = function () {
    fetch(status.dataset.poll, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.code === 100) { window.location.href = status.dataset.done; }
        else { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 4000); });
  };
  setTimeout(poll, 2000);
})();
