# Figure 5a: learning curves of the rules on the adding problem and on row-wise
# Fashion-MNIST: mean over the seeds, band of one standard deviation.
load 'plots/common.gp'
set key noenhanced
fa = datadir.'/learning_adding.csv'
ff = datadir.'/learning_fmnist_rows.csv'
ra = 'bptt ostl eprop tbptt:window=10 fptt:chunks=5'
rf = 'bptt ostl:traces=diagonal eprop fptt:chunks=4'
stats ff u 7 every ::1 nooutput
ns = int(STATS_max)
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set termoption noenhanced
  set output out('learning', fmt)
  set multiplot layout 1,2 title sprintf('Learning curves: mean of %d seeds, band = one standard deviation', ns)
  set xlabel 'update (batch 32)'
  set ylabel 'eval MSE'
  set title 'adding, T = 50, 16 LTC (OSTL lies on BPTT)'
  set key top right
  plot for [i=1:5] fa u (strcol(1) eq word(ra, i) ? $2 : 1/0):($3 - $4):($3 + $4) w filledcurves lc rgb rc(word(ra, i)) notitle, \
       for [i=1:5] fa u (strcol(1) eq word(ra, i) ? $2 : 1/0):3 w l lw (i == 1 ? 5 : 2) lc rgb rc(word(ra, i)) t word(ra, i), \
       0.0833 w l dt 2 lc rgb 'black' t 'predicting the mean (0.083)'
  set ylabel 'eval accuracy on the 10 000 test images'
  set title 'row-wise Fashion-MNIST, 128 LTC, one epoch'
  set key right center
  set yrange [0:1]
  plot for [i=1:4] ff u (strcol(1) eq word(rf, i) ? $2 : 1/0):($5 - $6):($5 + $6) w filledcurves lc rgb rc(word(rf, i)) notitle, \
       for [i=1:4] ff u (strcol(1) eq word(rf, i) ? $2 : 1/0):5 w lp pt 7 ps 0.4 lw 2 lc rgb rc(word(rf, i)) t word(rf, i), \
       0.1 w l dt 2 lc rgb 'black' t 'chance (0.1)'
  unset yrange
  unset multiplot
  unset output
}
