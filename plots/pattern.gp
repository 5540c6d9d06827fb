# Figure 8: e-prop pattern generation, before and after training, and the raster.
load 'plots/common.gp'
set key noenhanced
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('pattern', fmt)
  set multiplot layout 3,1 title 'e-prop pattern generation (100 frozen Poisson inputs, 64 recurrent LIF neurons)'
  set ylabel 'readout'
  unset xlabel
  set key top right
  plot datadir.'/pattern_before.csv' u 1:3 every ::1 w l lw 2 lc rgb 'black' t 'target', \
       datadir.'/pattern_before.csv' u 1:2 every ::1 w l lw 2 t 'output before training'
  plot datadir.'/pattern_after.csv' u 1:3 every ::1 w l lw 2 lc rgb 'black' t 'target', \
       datadir.'/pattern_after.csv' u 1:2 every ::1 w l lw 2 lc rgb '#d62728' t 'output after training'
  set xlabel 'step (ms)'
  set ylabel 'neuron'
  unset key
  plot datadir.'/pattern_raster.csv' u 1:2 every ::1 w p pt 7 ps 0.2 lc rgb 'black'
  unset multiplot
  unset output
}
