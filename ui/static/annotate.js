// Draw boxes on the annotation image; boxes are kept in canonical pixels in the hidden "boxes" field.
(function () {
  const img = document.getElementById("annotate-image");
  if (!img) return;
  const layer = document.getElementById("boxes-layer");
  const field = document.getElementById("boxes");
  const count = document.getElementById("box-count");
  const boxes = [];
  let start = null, ghost = null;
  function scale() { return Number(img.dataset.width) / img.clientWidth; }
  function local(event) {
    const r = img.getBoundingClientRect();
    return { x: Math.min(Math.max(event.clientX - r.left, 0), r.width), y: Math.min(Math.max(event.clientY - r.top, 0), r.height) };
  }
  function place(div, a, b) {
    div.style.left = Math.min(a.x, b.x) + "px"; div.style.top = Math.min(a.y, b.y) + "px";
    div.style.width = Math.abs(a.x - b.x) + "px"; div.style.height = Math.abs(a.y - b.y) + "px";
  }
  function sync() {
    field.value = JSON.stringify(boxes);
    count.textContent = boxes.length + (boxes.length === 1 ? " box" : " boxes");
  }
  img.parentElement.addEventListener("mousedown", function (e) {
    e.preventDefault(); start = local(e);
    ghost = document.createElement("div"); ghost.className = "box"; layer.appendChild(ghost); place(ghost, start, start);
  });
  window.addEventListener("mousemove", function (e) { if (start) place(ghost, start, local(e)); });
  window.addEventListener("mouseup", function (e) {
    if (!start) return;
    const end = local(e), s = scale();
    const x = Math.min(start.x, end.x), y = Math.min(start.y, end.y), w = Math.abs(start.x - end.x), h = Math.abs(start.y - end.y);
    if (w < 3 || h < 3) { ghost.remove(); } else {
      boxes.push([+(x * s).toFixed(1), +(y * s).toFixed(1), +(w * s).toFixed(1), +(h * s).toFixed(1)]);
      document.getElementById("verdict-black").checked = true;
    }
    start = null; ghost = null; sync();
  });
  document.getElementById("clear-boxes").addEventListener("click", function () { boxes.length = 0; layer.innerHTML = ""; sync(); });
})();
