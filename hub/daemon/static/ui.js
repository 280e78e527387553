// Orders per hour per channel, from the data the page carries (no request of its own).
(function () {
  "use strict";
  var holder = document.getElementById("chart");
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var colours = ["#2f6fb0", "#d0802a", "#3a9a5b", "#b0413e", "#7a5cb0", "#5f6b73"];
  var names = Object.keys(data.series);
  if (!names.length || !window.uPlot) {
    holder.textContent = "No orders today yet.";
    return;
  }
  var series = [{}];
  var columns = [data.hours];
  names.forEach(function (name, i) {
    series.push({label: name, stroke: colours[i % colours.length], width: 2,
                 fill: colours[i % colours.length] + "22", points: {show: true}});
    columns.push(data.series[name]);
  });
  var chart = new uPlot({
    width: Math.max(320, holder.clientWidth), height: 220, series: series,
    // The café's hours (hub.yaml's timezone), not those of the browser's machine.
    tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), data.timezone); },
    scales: {x: {time: true}, y: {range: function (u, min, max) { return [0, Math.max(1, max)]; }}},
    axes: [{}, {label: "orders", incrs: [1, 2, 5, 10, 20, 50, 100]}],
  }, columns, holder);
  window.addEventListener("resize", function () {
    chart.setSize({width: Math.max(320, holder.clientWidth), height: 220});
  });
  holder.dataset.drawn = names.length;
})();
