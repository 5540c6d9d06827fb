# Figure 6: accuracy against the truncation window and the local block size (Guo et al.).
load 'plots/common.gp'
set key noenhanced
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('truncation', fmt)
  set multiplot layout 1,2 title 'Evidence accumulation (T = 135): temporal truncation and spatial locality'
  set logscale x
  set xlabel 'truncation window W (135 = full BPTT)'
  set ylabel 'eval accuracy after 300 updates (mean of 3 seeds)'
  set yrange [0.4:1.02]
  unset key
  plot datadir.'/truncation_window.csv' u 1:3 every ::1 w lp pt 7 lw 2
  unset logscale x
  set xlabel 'layers per block (3 = end-to-end BPTT)'
  set xtics 1
  plot datadir.'/truncation_blocks.csv' u 1:3 every ::1 w lp pt 7 lw 2
  unset multiplot
  unset output
}
