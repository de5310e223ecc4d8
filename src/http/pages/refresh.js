// Reloads the page every 15 s while it is shown, unless a form on it is being used.
(function () {
  function later() {
    setTimeout(function () {
      var busy = document.querySelector("form :focus") || document.querySelector("[data-no-refresh]");
      if (document.hidden || busy) { later(); return; }
      location.reload();
    }, 15000);
  }
  later();
})();
