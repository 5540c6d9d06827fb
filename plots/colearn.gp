# Figure 7: co-learning adaptation and delays on evidence accumulation.
load 'plots/common.gp'
set key noenhanced
set xlabel 'update'
set ylabel 'eval accuracy'
set title 'Two feed-forward layers on store-recall (T = 24): what co-learning adaptation and delays add'
set key bottom right
set yrange [0.4:1.02]
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('colearn', fmt)
  plot datadir.'/colearn_lif.csv' u 1:4 every ::1 w lp pt 7 ps 0.5 t 'LIF, weights', \
       datadir.'/colearn_adlif_fixed.csv' u 1:4 every ::1 w lp pt 7 ps 0.5 t 'adLIF, weights (adaptation fixed)', \
       datadir.'/colearn_adlif.csv' u 1:4 every ::1 w lp pt 7 ps 0.5 t 'adLIF, weights + adaptation', \
       datadir.'/colearn_adlif_delays.csv' u 1:4 every ::1 w lp pt 7 ps 0.5 t 'adLIF, weights + adaptation + delays'
  unset output
}
