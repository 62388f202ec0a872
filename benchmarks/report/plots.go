package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot is one PNG written next to the report.
type Plot struct {
	Title string
	File  string // name inside the report's directory
}

// cdfScenarios are the scenarios with a latency CDF plot.
var cdfScenarios = []string{SetC1, GetC1, SetC50, GetC50, SetC50P16, MixC50, OpenSet, OpenMix}

// systemColor gives each system the same color in every plot.
func systemColor(sys string) color.Color {
	for i, s := range systemOrder {
		if s == sys {
			return plotutil.Color(i)
		}
	}
	return color.Black
}

// WritePlots draws every plot the results allow into dir and returns them.
// A plot that fails is skipped and its error joined into the returned one.
func WritePlots(r *Results, dir string) ([]Plot, error) {
	var out []Plot
	var errs []error
	add := func(title, file string, p *plot.Plot, err error) {
		if err == nil && p != nil {
			err = p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(dir, file))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			return
		}
		if p != nil {
			out = append(out, Plot{Title: title, File: file})
		}
	}
	for _, sc := range cdfScenarios {
		p, err := cdfPlot(r, sc)
		add("Latency CDF, "+sc, "cdf-"+sc+".png", p, err)
	}
	p, err := throughputPlot(r)
	add("Throughput per system (closed loop, log scale)", "throughput.png", p, err)
	p, err = failoverPlot(r, false)
	add("Successful writes per 100 ms around kill -9 of the master/leader", "failover.png", p, err)
	p, err = failoverPlot(r, true)
	add("Successful writes per 100 ms around kill -9 of the master, Sentinel with default timeouts", "failover-sentinel-default.png", p, err)
	return out, errors.Join(errs...)
}

func cdfPlot(r *Results, scenario string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "latency CDF: " + scenario
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of commands at or below"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Points(5)
	p.Legend.YOffs = vg.Points(5)
	p.Y.Min, p.Y.Max = 0, 1
	n := 0
	for _, sys := range systemOrder {
		run := r.Run(sys, scenario)
		if run == nil || run.Result == nil || run.Result.Latency == nil || run.Result.Latency.Count() == 0 {
			continue
		}
		var pts plotter.XYs
		for _, c := range run.Result.Latency.CDF() {
			ms := float64(c.Latency) / float64(time.Millisecond)
			pts = append(pts, plotter.XY{X: math.Max(ms, 0.001), Y: c.Fraction})
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = systemColor(sys)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(sys, l)
		n++
	}
	if n == 0 {
		return nil, nil
	}
	p.Add(plotter.NewGrid())
	return p, nil
}

// throughputPlot is a dot plot: scenarios along x, ops/s on a log y axis,
// one marker per system.
func throughputPlot(r *Results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "throughput per system (closed loop)"
	p.Y.Label.Text = "ops/s (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var scen []string
	for _, sc := range scenarioOrder {
		for _, run := range r.Runs {
			if run.Scenario == sc && run.Workload.Rate == 0 && run.Result != nil {
				scen = append(scen, sc)
				break
			}
		}
	}
	if len(scen) == 0 {
		return nil, nil
	}
	var ticks []plot.Tick
	for i, sc := range scen {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: sc})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Min, p.X.Max = -0.5, float64(len(scen))-0.5
	for si, sys := range systemOrder {
		var pts plotter.XYs
		for i, sc := range scen {
			if run := r.Run(sys, sc); run != nil && run.Result != nil && run.Result.Throughput() > 0 {
				pts = append(pts, plotter.XY{X: float64(i) + 0.08*float64(si-2), Y: run.Result.Throughput()})
			}
		}
		if len(pts) == 0 {
			continue
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Color = systemColor(sys)
		s.GlyphStyle.Radius = vg.Points(4)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(s)
		p.Legend.Add(sys, s)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}

// failoverPlot draws the first run of each system; sentinelDefault selects
// the plot of Sentinel with default timeouts (much longer) alone.
func failoverPlot(r *Results, sentinelDefault bool) (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "seconds since kill -9"
	p.Y.Label.Text = "acknowledged writes per 100 ms"
	seen := map[string]bool{}
	xmax, ymax := 0.0, 1.0
	for _, f := range r.Failovers {
		if f.Err != "" || seen[f.System] || (f.System == SentinelDefault) != sentinelDefault || len(f.Timeline) == 0 {
			continue
		}
		seen[f.System] = true
		var pts plotter.XYs
		for i, n := range f.Timeline {
			x := f.TimelineStart.Seconds() + float64(i)*0.1
			pts = append(pts, plotter.XY{X: x, Y: float64(n)})
			xmax = math.Max(xmax, x)
			ymax = math.Max(ymax, float64(n))
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = systemColor(f.System)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (unavailable %s, lost %d)", f.System, fmtDur(f.Unavailability), f.Lost), l)
	}
	if len(seen) == 0 {
		return nil, nil
	}
	kill, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 0, Y: ymax}})
	if err != nil {
		return nil, err
	}
	kill.Color = color.Gray{Y: 128}
	kill.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(kill)
	p.Title.Text = "writes around kill -9 (at 0 s)"
	p.Legend.Top = true
	p.Legend.Left = false
	p.X.Max = xmax
	p.Y.Min, p.Y.Max = 0, ymax*1.45 // room for the legend
	p.Add(plotter.NewGrid())
	return p, nil
}
