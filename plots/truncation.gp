# Figure 6: Guo et al.'s trade-off: accuracy and the gradient's memory against
# the truncation window (two tasks) and the local block size.
load 'plots/common.gp'
set key noenhanced
fw = datadir.'/truncation_window.csv'
fb = datadir.'/truncation_blocks.csv'
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set termoption noenhanced
  set output out('truncation', fmt)
  set multiplot layout 1,2 title 'Truncated and local BPTT: final accuracy (mean and one standard deviation over the seeds) and memory'
  set logscale x
  set xlabel 'truncation window W (steps; the last point is full BPTT)'
  set ylabel 'eval accuracy after training'
  set y2label 'memory of one gradient (KiB)'
  set ytics nomirror
  set y2tics
  set yrange [0:1.02]
  set xrange [0.8:200]
  set key below maxrows 3 width -8
  set title 'temporal truncation'
  plot fw u (strcol(1) eq 'cues' ? $2 : 1/0):3:4 w yerrorlines pt 7 lw 2 lc rgb rc('tbptt') t 'evidence (T = 135), 40 ALIF', \
       fw u (strcol(1) eq 'rows' ? $2 : 1/0):3:4 w yerrorlines pt 5 lw 2 lc rgb rc('bptt') t 'row-wise F-MNIST (T = 28), 16 LTC', \
       fw u (strcol(1) eq 'cues' ? $2 : 1/0):($5 / 1024) axes x1y2 w l dt 2 lw 2 lc rgb rc('tbptt') t 'memory, evidence', \
       fw u (strcol(1) eq 'rows' ? $2 : 1/0):($5 / 1024) axes x1y2 w l dt 2 lw 2 lc rgb rc('bptt') t 'memory, F-MNIST', \
       0.5 w l dt 3 lc rgb 'black' t 'chance, evidence (0.5)', 0.1 w l dt 3 lc rgb 'gray' t 'chance, F-MNIST (0.1)'
  unset logscale x
  set xlabel 'layers per block (3 = end-to-end BPTT)'
  set xtics 1
  set xrange [0.8:3.2]
  set yrange [0.3:1.02]
  set title 'spatial locality: 3 ALIF layers, evidence accumulation'
  plot fb u 1:2:3 every ::1 w yerrorlines pt 7 lw 2 lc rgb rc('tbptt') t 'accuracy', \
       fb u 1:($4 / 1024) every ::1 axes x1y2 w l dt 2 lw 2 lc rgb rc('tbptt') t 'memory', \
       0.5 w l dt 3 lc rgb 'black' t 'chance (0.5)'
  unset multiplot
  unset output
}
