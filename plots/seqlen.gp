# Figure 5b: final error on the adding problem against the sequence length.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/seqlen.csv'
set logscale x 2
set xlabel 'sequence length T'
set ylabel 'eval MSE after 300 updates (0.083 = predicting the mean)'
set title 'Adding problem: final error against T (FPTT: chunks of 10 steps)'
set key top left
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('seqlen', fmt)
  plot for [r in '"bptt" "eprop" "ostl:traces=diagonal" "tbptt:window=10" "fptt"'] f u (strcol(1) eq r ? $2 : 1/0):3 w lp pt 7 t r, \
       0.0833 w l dt 2 lc rgb 'black' t 'baseline'
  unset output
}
