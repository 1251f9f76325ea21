// Live worklist: re-fetch the rows of the current filter every 2 s (server-rendered, escaped HTML).
(function () {
  const holder = document.getElementById("rows");
  const live = document.getElementById("live");
  if (!holder) return;
  async function refresh() {
    try {
      const response = await fetch(holder.dataset.src, { credentials: "same-origin", cache: "no-store" });
      if (response.redirected || !response.ok) { live.textContent = "offline"; return; }
      holder.innerHTML = await response.text();
      live.textContent = "live · " + new Date().toLocaleTimeString();
    } catch (e) { live.textContent = "offline"; }
  }
  setInterval(refresh, 2000);
})();
