# Figure 5b: final error on the adding problem against the sequence length,
# mean over the seeds with error bars of one standard deviation.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/seqlen.csv'
set logscale x 2
set xrange [20:1250]
set xlabel 'sequence length T'
set ylabel 'eval MSE after 300 updates'
set title 'Adding problem: error after 300 updates against T, 16 LTC neurons (FPTT: 10-step chunks; bars: 1 s.d. over the seeds)'
set key bottom right
rs = 'bptt eprop ostl:traces=diagonal tbptt:window=10 fptt'
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set termoption noenhanced
  set output out('seqlen', fmt)
  plot for [i=1:5] f u (strcol(1) eq word(rs, i) ? $2 * (1 + 0.03 * (i - 3)) : 1/0):3:4 w yerrorlines pt 7 lw 2 lc rgb rc(word(rs, i)) t word(rs, i), \
       0.0833 w l dt 2 lc rgb 'black' t 'predicting the mean (0.083)'
  unset output
}
