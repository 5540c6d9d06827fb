# Figure 5c: pixel-by-pixel Fashion-MNIST (T = 784): BPTT, e-prop and FPTT as the
# sFPTT paper runs it; mean over the seeds, band of one standard deviation.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/pixels.csv'
r3 = 'bptt eprop fptt'
stats f u 7 every ::1 nooutput
ns = int(STATS_max)
set xlabel 'update (batch 32)'
set ylabel 'eval accuracy on the 10 000 test images'
set title sprintf('Pixel-by-pixel Fashion-MNIST (T = 784), recurrent LTC layer: mean of %d seeds, band = one standard deviation', ns)
set key top left
set yrange [0:1]
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set termoption noenhanced
  set output out('pixels', fmt)
  plot for [i=1:3] f u (strcol(1) eq word(r3, i) ? $2 : 1/0):($5 - $6):($5 + $6) w filledcurves lc rgb rc(word(r3, i)) notitle, \
       for [i=1:3] f u (strcol(1) eq word(r3, i) ? $2 : 1/0):5 w lp pt 7 ps 0.5 lw 2 lc rgb rc(word(r3, i)) t (i == 3 ? 'fptt (28 chunks, time-weighted loss)' : word(r3, i)), \
       0.1 w l dt 2 lc rgb 'black' t 'chance (0.1)'
  unset output
}
