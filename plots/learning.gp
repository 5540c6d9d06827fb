# Figure 5a: learning curves of five rules on the adding problem and on row-wise Fashion-MNIST.
load 'plots/common.gp'
rules = 'bptt ostl eprop tbptt_window_10 fptt_chunks_5'
labels = 'bptt ostl eprop tbptt:window=10 fptt:chunks=5'
set key noenhanced
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('learning', fmt)
  set multiplot layout 1,2 title 'Learning curves, recurrent LTC layer of 16 neurons, held-out evaluation (OSTL = BPTT: the thick line lies under it)'
  set xlabel 'update'
  set ylabel 'eval MSE (adding, T = 50; 0.083 = predicting the mean)'
  set key top right
  plot for [i=1:5] datadir.'/learning_adding_'.word(rules, i).'.csv' u 1:3 every ::1 w lp pt 7 ps 0.5 lw (i == 1 ? 5 : 2) t word(labels, i), \
       0.0833 w l dt 2 lc rgb 'black' t 'baseline'
  set ylabel 'eval accuracy (Fashion-MNIST, 28 rows)'
  set key bottom right
  plot for [i=1:5] datadir.'/learning_fmnist_rows_'.word(rules, i).'.csv' u 1:4 every ::1 w lp pt 7 ps 0.5 lw (i == 1 ? 5 : 2) t word(labels, i)
  unset multiplot
  unset output
}
