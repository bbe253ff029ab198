/*
 * Drawn signature for the commitment letter (R7). Hand-written, no library.
 *
 * Markup: a container with `data-signature-pad` and `data-target="<id of a hidden input>"`,
 * holding a <canvas>, a `[data-signature-clear]` button and a `[data-signature-status]` element.
 * The container is `hidden` in the HTML: without JavaScript the page asks only for the typed
 * name. With JavaScript it appears; strokes (mouse, pen or finger, through pointer events) are
 * written into the hidden input as a PNG data URL of a fixed 480×160 size, which keeps it well
 * under the server's limit whatever the screen's pixel ratio (the server refuses a drawing
 * over 2000×1000 pixels, family.services.MAX_SIGNATURE_WIDTH/HEIGHT). A drawing the server
 * refused (`data-signature-refused`) is dropped, so the holder draws again or signs by name.
 */
(function () {
  "use strict";

  var EXPORT_WIDTH = 480;
  var EXPORT_HEIGHT = 160;
  var MAX_LENGTH = 200000; // family.services.MAX_SIGNATURE_BYTES

  function setUp(pad) {
    var canvas = pad.querySelector("canvas");
    var input = document.getElementById(pad.getAttribute("data-target"));
    var clearButton = pad.querySelector("[data-signature-clear]");
    var status = pad.querySelector("[data-signature-status]");
    if (!canvas || !input || !canvas.getContext || !window.PointerEvent) {
      return; // the typed name alone still signs
    }
    var context = canvas.getContext("2d");
    var drawing = false;
    var last = null;
    var fittedWidth = 0;

    pad.hidden = false;
    if (pad.hasAttribute("data-signature-refused")) {
      input.value = "";
    }

    function say(key) {
      if (status) {
        status.textContent = pad.getAttribute(key) || "";
      }
    }

    function pen() {
      context.lineWidth = 2.5;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.strokeStyle = "#111";
      context.fillStyle = "#111";
    }

    function restore(url) {
      var image = new Image();
      image.onload = function () {
        var box = canvas.getBoundingClientRect();
        context.drawImage(image, 0, 0, box.width, box.height);
      };
      image.src = url;
    }

    // Match the bitmap to the displayed size (sharp lines on high-density screens); the last
    // saved drawing is painted back after a resize or rotation.
    function fit() {
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var box = canvas.getBoundingClientRect();
      // Phones fire "resize" when the address bar slides while scrolling: only a new width
      // (a rotation, a wider window) redraws.
      if (!box.width || !box.height || box.width === fittedWidth || drawing) {
        return;
      }
      fittedWidth = box.width;
      canvas.width = Math.round(box.width * ratio);
      canvas.height = Math.round(box.height * ratio);
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      pen();
      if (input.value.indexOf("data:image/png;base64,") === 0) {
        restore(input.value);
      }
    }

    function point(event) {
      var box = canvas.getBoundingClientRect();
      return { x: event.clientX - box.left, y: event.clientY - box.top };
    }

    function save() {
      var out = document.createElement("canvas");
      out.width = EXPORT_WIDTH;
      out.height = EXPORT_HEIGHT;
      out.getContext("2d").drawImage(canvas, 0, 0, EXPORT_WIDTH, EXPORT_HEIGHT);
      var url = out.toDataURL("image/png");
      if (url.length > MAX_LENGTH) {
        input.value = "";
        say("data-msg-too-large");
        return;
      }
      input.value = url;
      say("data-msg-done");
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (event.pointerType === "mouse" && event.button !== 0) {
        return;
      }
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      drawing = true;
      last = point(event);
      context.beginPath();
      context.arc(last.x, last.y, context.lineWidth / 2, 0, 2 * Math.PI);
      context.fill();
    });

    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) {
        return;
      }
      event.preventDefault();
      var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      if (!events.length) {
        events = [event];
      }
      context.beginPath();
      context.moveTo(last.x, last.y);
      events.forEach(function (each) {
        var p = point(each);
        context.lineTo(p.x, p.y);
        last = p;
      });
      context.stroke();
    });

    function finish() {
      if (!drawing) {
        return;
      }
      drawing = false;
      save();
    }

    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    canvas.addEventListener("lostpointercapture", finish);

    if (clearButton) {
      clearButton.addEventListener("click", function () {
        context.save();
        context.setTransform(1, 0, 0, 1, 0, 0);
        context.clearRect(0, 0, canvas.width, canvas.height);
        context.restore();
        input.value = "";
        say("data-msg-empty");
      });
    }

    var resizeTimer = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(fit, 150);
    });

    fit();
    say(input.value ? "data-msg-done" : "data-msg-empty");
  }

  document.querySelectorAll("[data-signature-pad]").forEach(setUp);
})();
